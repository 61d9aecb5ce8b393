// A corpus of malformed and invalid inputs, each run through the real CLI as a user would type it:
// every one must give one clear message naming the cause, exit 1 or 2, no stack trace, and make zero
// gcloud calls (checked twice: a pass-through recorder in front of the real gcloud on PATH, and the
// sandbox's own request log). The valid-but-tricky env values are checked to load intact in test/env.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import pLimit from 'p-limit';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

interface Case {
  name: string;
  args: string[];
  /** Env files written into the folder the run reads them from (the sandbox folder with --sandbox). */
  envFiles?: Record<string, string>;
  /** A config file written next to a copy-free wrapper; `--config` points at it. */
  config?: string;
  env?: Record<string, string>;
  /** The exit code when one is right; otherwise 1 or 2 are both accepted. */
  code?: 1 | 2;
  says: RegExp;
  /** Text that must appear nowhere in the output (stdout included, so also not in --json). */
  neverShows?: string;
}

const lib = JSON.stringify(path.join(repoRoot, 'lib', 'index.js'));
const mainConfig = JSON.stringify(path.join(repoRoot, 'tasks.config.js'));
const tasksIndex = JSON.stringify(path.join(repoRoot, 'tasks', 'index.js'));

/** A config that takes the real infra and changes one value: `patch` is a JS expression on `infra`. */
const infraVariant = (patch: string) => `
import { defineConfig } from ${lib};
import { infra as base } from ${mainConfig};
import { gcpTasks, gcpEnvSchema } from ${tasksIndex};
const infra = structuredClone(base);
${patch};
export default defineConfig({ infra, envSchema: gcpEnvSchema, tasks: gcpTasks(infra) });
`;
const plainConfig = (tasks: string) => `
import { defineConfig, defineTask } from ${lib};
export default defineConfig({ tasks: [${tasks}] });
`;

const dev = (text: string) => ({ '.env.development': text });
const prod = (text: string) => ({ '.env.production': text });

const cases: Case[] = [
  // Env files: lines dotenv would silently drop or misread.
  { name: 'env: a line that is not KEY=value', args: ['setup', '--sandbox'], envFiles: dev('LOG_LEVEL=info\nthis is not a pair\n'), code: 1, says: /\.env\.development:2: not a KEY=value line/ },
  { name: 'env: key starting with a digit', args: ['setup', '--sandbox'], envFiles: dev('1BAD=x\n'), code: 1, says: /:1: not a valid variable name/, neverShows: '1BAD' },
  // A value pasted on a line of its own: named by file and line, never shown (not on screen, not in --json).
  { name: 'env: a secret on a line of its own is not echoed', args: ['setup', '--sandbox'], envFiles: dev('LOG_LEVEL=info\nsk_live_9f8e7d6c5b4a39281716\n'), code: 1, says: /\.env\.development:2: not a KEY=value line/, neverShows: 'sk_live' },
  { name: 'env: a secret on a line of its own is not echoed in --json', args: ['setup', '--sandbox', '--json'], envFiles: dev('LOG_LEVEL=info\nsk_live_9f8e7d6c5b4a39281716 more\n'), code: 1, says: /\.env\.development:2: not a KEY=value line/, neverShows: 'sk_live' },
  { name: 'env: a secret with a colon on a line of its own', args: ['setup', '--sandbox'], envFiles: dev('token: ghp_abcdefghijklmnop1234567890\n'), code: 1, says: /:1: not a KEY=value line/, neverShows: 'token' },
  // A key defined twice: dotenv uses the last, a reader (and the URL write-back) the first. Refused.
  { name: 'env: a key defined twice', args: ['setup', '--sandbox'], envFiles: dev('LOG_LEVEL=info\nLOG_FORMAT=json\nLOG_LEVEL=debug\n'), code: 1, says: /\.env\.development:3: LOG_LEVEL is already defined on line 1/ },
  { name: 'env: a key defined twice in .env.production.local', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: { '.env.production.local': 'export LOG_LEVEL=info\nLOG_LEVEL=warn\n' }, code: 1, says: /\.env\.production\.local:2: LOG_LEVEL is already defined on line 1/ },
  { name: 'env: key with a space', args: ['setup', '--sandbox'], envFiles: dev('MY KEY=x\n'), code: 1, says: /:1: not a KEY=value line/ },
  { name: 'env: empty key', args: ['setup', '--sandbox'], envFiles: dev('=value\n'), code: 1, says: /:1: not a KEY=value line/ },
  { name: 'env: unclosed double quote', args: ['setup', '--sandbox'], envFiles: dev('CORS_ORIGIN="https://a.example\nLOG_LEVEL=info\n'), code: 1, says: /:1: the quote opened here is never closed/ },
  { name: 'env: unclosed single quote', args: ['setup', '--sandbox'], envFiles: dev("LOG_FORMAT='json\n"), code: 1, says: /the quote opened here is never closed/ },
  { name: 'env: unclosed backtick', args: ['setup', '--sandbox'], envFiles: dev('LOG_FORMAT=`json\n'), code: 1, says: /the quote opened here is never closed/ },
  { name: 'env: non-ASCII key', args: ['setup', '--sandbox'], envFiles: dev('CAFÉ=1\n'), code: 1, says: /:1: not a valid variable name/, neverShows: 'CAFÉ' },
  { name: 'env: BOM then a broken line', args: ['setup', '--sandbox'], envFiles: dev('\uFEFFbroken line\n'), code: 1, says: /:1: not a KEY=value line/ },
  { name: 'env: a bare export', args: ['setup', '--sandbox'], envFiles: dev('export\n'), code: 1, says: /:1: not a KEY=value line/ },
  { name: 'env: broken line in .env.development.local', args: ['setup', '--sandbox'], envFiles: { '.env.development.local': 'GOOD=1\n???\n' }, code: 1, says: /\.env\.development\.local:2/ },
  { name: 'env: broken line in the shared .env', args: ['setup', '--sandbox'], envFiles: { '.env': 'oops\n' }, code: 1, says: /\.env:1: not a KEY=value line/ },
  // Env values that are well-formed lines but invalid values.
  { name: 'env: LOG_LEVEL not a level', args: ['setup', '--sandbox'], envFiles: dev('LOG_LEVEL=verbose\n'), code: 1, says: /LOG_LEVEL: must be one of debug, info, warn, error/ },
  { name: 'env: LOG_FORMAT unknown', args: ['setup', '--sandbox'], envFiles: dev('LOG_FORMAT=xml\n'), code: 1, says: /LOG_FORMAT: must be one of json, simple/ },
  { name: 'env: CACHE_TTL_SHORT not a number', args: ['setup', '--sandbox'], envFiles: dev('CACHE_TTL_SHORT=abc\n'), code: 1, says: /CACHE_TTL_SHORT: must be a whole number/ },
  { name: 'env: negative CACHE_TTL_LONG', args: ['setup', '--sandbox'], envFiles: dev('CACHE_TTL_LONG=-5\n'), code: 1, says: /CACHE_TTL_LONG: must be a whole number/ },
  { name: 'env: TTLs out of order', args: ['setup', '--sandbox'], envFiles: dev('CACHE_TTL_SHORT=600\nCACHE_TTL_MEDIUM=60\n'), code: 1, says: /CACHE_TTL_MEDIUM: must not be shorter than CACHE_TTL_SHORT/ },
  { name: 'env: ENABLE_CACHING not a boolean', args: ['setup', '--sandbox'], envFiles: dev('ENABLE_CACHING=maybe\n'), code: 1, says: /ENABLE_CACHING: must be one of true, false/ },
  { name: 'env: DATABASE_SSL yes', args: ['setup', '--sandbox'], envFiles: dev('DATABASE_SSL=yes\n'), code: 1, says: /DATABASE_SSL: must be one of true, false/ },
  { name: 'env: pool min above max', args: ['setup', '--sandbox'], envFiles: dev('DATABASE_POOL_MIN=9\nDATABASE_POOL_MAX=3\n'), code: 1, says: /DATABASE_POOL_MIN: must not be larger than DATABASE_POOL_MAX/ },
  { name: 'env: DATABASE_PORT out of range', args: ['setup', '--sandbox'], envFiles: dev('DATABASE_PORT=70000\n'), code: 1, says: /DATABASE_PORT: must be a whole number from 1 to 65535/ },
  { name: 'env: bucket override with capitals', args: ['setup', '--sandbox'], envFiles: dev('GCS_BUCKET_UPLOADS=Bad_Bucket\n'), code: 1, says: /GCS_BUCKET_UPLOADS: must be a valid bucket name/ },
  { name: 'env: bucket override containing google', args: ['setup', '--sandbox'], envFiles: dev('GCS_BUCKET_DOCUMENTS=my-google-docs\n'), code: 1, says: /GCS_BUCKET_DOCUMENTS: must be a valid bucket name/ },
  { name: 'env: bucket override too short', args: ['setup', '--sandbox'], envFiles: dev('GCS_BUCKET_VOICE_MODELS=a\n'), code: 1, says: /GCS_BUCKET_VOICE_MODELS: must be a valid bucket name/ },
  { name: 'env: NODE_ENV unknown', args: ['setup', '--sandbox'], envFiles: dev('NODE_ENV=staging\n'), code: 1, says: /NODE_ENV: must be one of/ },
  { name: 'env: service URL not a URL', args: ['setup', '--sandbox'], envFiles: dev('API_GATEWAY_URL=not a url\n'), code: 1, says: /API_GATEWAY_URL: must be a URL/ },
  { name: 'env: CORS origin with a path', args: ['setup', '--sandbox'], envFiles: dev('CORS_ORIGIN=https://a.example/app\n'), code: 1, says: /CORS_ORIGIN: must be \* or a comma-separated list of origins/ },
  { name: 'env: DATABASE_URL wrong scheme', args: ['setup', '--sandbox'], envFiles: dev('DATABASE_URL=mysql://u@h/db\n'), code: 1, says: /DATABASE_URL: must be a URL starting with postgres/ },
  { name: 'env: supplied secret too short', args: ['setup', '--sandbox'], envFiles: dev('SECRET_VALUE_JWT_SECRET=short\n'), code: 1, says: /SECRET_VALUE_JWT_SECRET: is too short for a secret/ },
  { name: 'env: several problems named at once', args: ['setup', '--sandbox'], envFiles: dev('LOG_LEVEL=loud\nLOG_FORMAT=xml\nDATABASE_SSL=1\n'), code: 1, says: /^(?=[\s\S]*LOG_LEVEL:)(?=[\s\S]*LOG_FORMAT:)(?=[\s\S]*DATABASE_SSL:)/ },
  { name: 'env: missing project and region (no sandbox)', args: ['setup'], env: { GCP_PROJECT_ID: '', GCP_REGION: '' }, code: 1, says: /GCP_PROJECT_ID: is required[\s\S]*GCP_REGION: is required/ },
  { name: 'env: invalid project id (no sandbox)', args: ['setup'], env: { GCP_PROJECT_ID: 'My_Project', GCP_REGION: 'us-central1' }, code: 1, says: /GCP_PROJECT_ID: must be a Google Cloud project id/ },
  { name: 'env: unknown region (no sandbox)', args: ['setup'], env: { GCP_PROJECT_ID: 'my-project-123', GCP_REGION: 'mars-north1' }, code: 1, says: /GCP_REGION: must be a Google Cloud region/ },
  // Production rules for deploys.
  { name: 'production: literal JWT secret in the env file', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('JWT_SECRET=a-literal-secret-value-123\n'), code: 1, says: /JWT_SECRET/ },
  // The message names the file that holds the value (here the shared .env and the local override), never the value.
  { name: 'production: literal secret in .env names .env', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: { '.env': 'JWT_SECRET=a-literal-secret-in-dotenv-456\n' }, code: 1, says: /JWT_SECRET holds a literal value[^\n]*\[set in \.env\][\s\S]*Fix them in \.env \(in /, neverShows: 'a-literal-secret-in-dotenv-456' },
  { name: 'production: literal secret in .env.production.local names it', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: { '.env.production.local': 'REFRESH_SECRET=a-literal-refresh-value-789\n' }, code: 1, says: /\[set in \.env\.production\.local\][\s\S]*Fix them in \.env\.production\.local \(in /, neverShows: 'a-literal-refresh-value-789' },
  { name: 'production: debug endpoints on', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('ENABLE_DEBUG_ENDPOINTS=true\n'), code: 1, says: /ENABLE_DEBUG_ENDPOINTS/ },
  { name: 'production: http:// service URL', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('FACE_PROCESSING_URL=http://face.example\n'), code: 1, says: /FACE_PROCESSING_URL/ },
  // Schemes are case-insensitive and a URL is read trimmed: none of these slips past the https/wss rule.
  { name: 'production: HTTP:// in capitals', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('FACE_PROCESSING_URL=HTTP://face.example\n'), code: 1, says: /FACE_PROCESSING_URL is HTTP:\/\/face\.example: production services are reached over https/ },
  { name: 'production: Ws:// in mixed case', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('WEBSOCKET_URL=Ws://ws.example\n'), code: 1, says: /WEBSOCKET_URL is Ws:\/\/ws\.example: production services are reached over wss/ },
  { name: 'production: http:// after a space', args: ['deploy:api-gateway', '--sandbox', '--env', 'production'], envFiles: prod('FACE_PROCESSING_URL=" http://face.example"\n'), code: 1, says: /FACE_PROCESSING_URL is http:\/\/face\.example: production services are reached over https/ },
  // Command line.
  { name: 'cli: unknown flag', args: ['setup', '--bogus'], code: 2, says: /--bogus/ },
  { name: 'cli: -j 0', args: ['setup', '-j', '0'], code: 2, says: /-j|concurrency/ },
  { name: 'cli: -j not a number', args: ['setup', '-j', 'many'], code: 2, says: /-j|concurrency/ },
  { name: 'cli: --env staging', args: ['setup', '--env', 'staging'], code: 2, says: /staging/ },
  { name: 'cli: --env without a value', args: ['setup', '--env'], code: 2, says: /--env/ },
  { name: 'cli: --graph=png', args: ['--graph=png'], code: 2, says: /png/ },
  { name: 'cli: --lock-timeout not a number', args: ['setup', '--lock-timeout', 'soon'], code: 2, says: /lock-timeout/ },
  { name: 'cli: no task named', args: ['--sandbox'], code: 2, says: /No task named/ },
  { name: 'cli: misspelt task gets did-you-mean', args: ['deploy:al', '--sandbox'], code: 2, says: /deploy:all/ },
  { name: 'cli: unknown task', args: ['frobnicate', '--sandbox'], code: 2, says: /Unknown task "frobnicate"/ },
  { name: 'cli: missing config file', args: ['setup', '--config', 'no-such.config.ts'], says: /no-such\.config\.ts/ },
  { name: 'cli: unknown task argument', args: ['rollback:api-gateway', '--sandbox', '--', '--bogus=1'], code: 2, says: /--bogus/ },
  { name: 'cli: resource:delete of an unknown type', args: ['resource:delete', '--sandbox', '--yes', '--', '--type=thing', '--name=x'], code: 2, says: /thing/ },
  { name: 'cli: api:enable without a name', args: ['api:enable', '--sandbox'], code: 2, says: /--name/ },
  { name: 'cli: api:enable with an invalid name', args: ['api:enable', '--sandbox', '--', '--name=not an api'], code: 2, says: /not an api/ },
  { name: 'cli: --only with nothing recorded for the deps', args: ['deploy:api-gateway', '--only', '--sandbox'], code: 1, says: /no recorded|never|run .* first/i },
  // Destructive steps without a terminal and without --yes.
  { name: 'destructive: sql:stop without --yes and no TTY', args: ['sql:stop', '--sandbox'], code: 1, says: /--yes/ },
  { name: 'destructive: cleanup --all without --yes and no TTY', args: ['cleanup', '--sandbox', '--', '--all'], code: 1, says: /--yes/ },
  { name: 'destructive: resource:delete without --yes and no TTY', args: ['resource:delete', '--sandbox', '--', '--type=bucket', '--name=clone-uploads-development'], code: 1, says: /--yes/ },
  // Config files.
  { name: 'config: a cycle', args: ['a', '--config', 'X'], config: plainConfig(`defineTask({ name: 'a', description: 'a', deps: ['b'], run: async () => {} }), defineTask({ name: 'b', description: 'b', deps: ['c'], run: async () => {} }), defineTask({ name: 'c', description: 'c', deps: ['a'], run: async () => {} })`), code: 1, says: /a → b → c → a|b → c → a → b|c → a → b → c/ },
  { name: 'config: duplicate task names', args: ['a', '--config', 'X'], config: plainConfig(`defineTask({ name: 'a', description: 'a', run: async () => {} }), defineTask({ name: 'a', description: 'again', run: async () => {} })`), code: 1, says: /duplicate task name/ },
  { name: 'config: dependency on an unknown task', args: ['a', '--config', 'X'], config: plainConfig(`defineTask({ name: 'a', description: 'a', deps: ['ghost'], run: async () => {} })`), code: 1, says: /ghost/ },
  { name: 'config: no default export', args: ['a', '--config', 'X'], config: `export const nothing = 1;\n`, code: 1, says: /default export|defineConfig/ },
  { name: 'config: syntax error', args: ['a', '--config', 'X'], config: `export default {{{\n`, code: 1, says: /X|config/ },
  { name: 'config: unknown Cloud SQL tier', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.sql.tier = 'db-huge'`), code: 1, says: /infra\.sql\.tier/ },
  { name: 'config: memory in the wrong unit', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.services[0].memory = '512MB'`), code: 1, says: /infra\.services\[0\]\.memory/ },
  { name: 'config: backup start time 25:00', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.sql.backupStartTime = '25:00'`), code: 1, says: /infra\.sql\.backupStartTime/ },
  { name: 'config: PostgreSQL 14', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.sql.databaseVersion = 'POSTGRES_14'`), code: 1, says: /infra\.sql\.databaseVersion/ },
  { name: 'config: invalid bucket name template', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.buckets[0].name = 'Clone_Voice_{env}'`), code: 1, says: /infra\.buckets\[0\]\.name/ },
  { name: 'config: service account id too long', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.serviceAccount.name = 'a-very-long-service-account-name-indeed'`), code: 1, says: /infra\.serviceAccount\.name/ },
  { name: 'config: role without roles/ prefix', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.serviceAccount.roles = ['cloudsql.client']`), code: 1, says: /infra\.serviceAccount\.roles/ },
  { name: 'config: max instances 0', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.services[1].maxInstances = 0`), code: 1, says: /infra\.services\[1\]\.maxInstances/ },
  { name: 'config: API that is not a googleapis.com name', args: ['setup', '--sandbox', '--config', 'X'], config: infraVariant(`infra.apis = ['compute']`), code: 1, says: /infra\.apis\[0\]/ },
  // Names that exist on every object are not declared arguments; empty and JSON-wanting command lines.
  { name: 'cli: task argument --constructor', args: ['rollback:api-gateway', '--sandbox', '--', '--constructor'], code: 2, says: /Unknown argument --constructor/ },
  { name: 'cli: task argument --toString=1', args: ['rollback:api-gateway', '--sandbox', '--', '--toString=1'], code: 2, says: /Unknown argument --toString/ },
  { name: 'cli: --json with an unknown flag', args: ['setup', '--json', '--bogus'], code: 2, says: /--bogus/ },
  { name: 'cli: --json with --env staging', args: ['setup', '--json', '--env=staging'], code: 2, says: /staging/ },
  { name: 'cli: empty --config', args: ['setup', '--config='], code: 2, says: /--config needs a file name/ },
];

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

let sandbox: TestSandbox | undefined;
let work: string;
let recorderLog: string;
let pathWithRecorder: string;
const test = gcloudTests('bad-input corpus against the sandbox');

test.before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'gt-bad-'));
  // A pass-through recorder in front of the REAL gcloud: it notes each invocation and execs gcloud itself.
  const realGcloud = execFileSync('which', ['gcloud'], { encoding: 'utf8' }).trim();
  const bin = path.join(work, 'bin');
  mkdirSync(bin);
  recorderLog = path.join(work, 'gcloud-invocations.log');
  writeFileSync(path.join(bin, 'gcloud'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${recorderLog}'\nexec '${realGcloud}' "$@"\n`);
  chmodSync(path.join(bin, 'gcloud'), 0o755);
  pathWithRecorder = `${bin}${path.delimiter}${process.env.PATH}`;
  sandbox = await startTestSandbox();
});

test.after(async () => {
  await sandbox?.stop();
  rmSync(work, { recursive: true, force: true });
});

test(`the corpus has at least 50 inputs (${cases.length})`, () => {
  assert.ok(cases.length >= 50);
});

test('every bad input: one clear message, exit 1 or 2, no stack trace, zero gcloud calls', async () => {
  const limit = pLimit(2);
  const failures: string[] = [];
  await Promise.all(
    cases.map((c, index) =>
      limit(async () => {
        // Each case gets its own sandbox-side env folder state: write, run, remove.
        const caseDir = path.join(work, `case-${index}`);
        mkdirSync(caseDir);
        const args = [...c.args];
        if (c.config) {
          const file = path.join(caseDir, 'bad.config.ts');
          writeFileSync(file, c.config);
          args[args.indexOf('X')] = file;
        }
        const envDir = args.includes('--sandbox') ? sandbox!.dir : caseDir;
        const result = await withEnvFiles(envDir, c.envFiles ?? {}, () =>
          runCli(args, {
            cwd: caseDir === envDir || !c.config ? repoRoot : caseDir,
            env: { PATH: pathWithRecorder, GCP_TASKS_SANDBOX_DIR: sandbox!.dir, GCP_TASKS_STATE_DIR: path.join(caseDir, 'state'), ...c.env },
            timeoutMs: 60_000,
          }),
        );
        const problem = judge(c, result);
        if (problem) failures.push(`${c.name}: ${problem}\n    exit ${result.code}\n    stderr: ${result.stderr.trim().split('\n').join('\n            ')}`);
      }),
    ),
  );
  const invocations = existsSync(recorderLog) ? readFileSync(recorderLog, 'utf8') : '';
  const requests = await sandbox!.requests();
  assert.equal(failures, [], failures.join('\n'));
  assert.is(invocations, '', `gcloud was invoked:\n${invocations}`);
  assert.equal(requests.map((r) => `${r.method} ${r.path}`), [], 'the sandbox received requests');
});

/** Runs that use the sandbox folder share its env files and its run lock: they are serialised. */
let envLock: Promise<unknown> = Promise.resolve();
function withEnvFiles<T>(dir: string, files: Record<string, string>, run: () => Promise<T>): Promise<T> {
  if (dir !== sandbox?.dir) return run();
  const next = envLock.then(async () => {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    try {
      return await run();
    } finally {
      for (const name of Object.keys(files)) rmSync(path.join(dir, name), { force: true });
    }
  });
  envLock = next.catch(() => undefined);
  return next;
}

function judge(c: Case, r: CliResult): string | undefined {
  if (c.code ? r.code !== c.code : r.code !== 1 && r.code !== 2) return `expected exit ${c.code ?? '1 or 2'}`;
  if (STACK_LINE.test(r.stderr) || STACK_LINE.test(r.stdout)) return 'printed a stack trace';
  const errorLines = r.stderr.split('\n').filter((l) => /^Error:/.test(l));
  if (errorLines.length !== 1) return `expected exactly one "Error:" line, got ${errorLines.length}`;
  if (!c.says.test(r.stderr)) return `message does not match ${c.says}`;
  if (c.neverShows && `${r.stdout}\n${r.stderr}`.includes(c.neverShows)) return `showed "${c.neverShows}"`;
  return undefined;
}

test.run();
