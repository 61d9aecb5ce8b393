// The CLI end to end, as a subprocess: usage errors, did-you-mean, --list, --graph, --help, and config and
// env validation (every problem reported, nothing run). Runs themselves: cli-run.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, fixtureProject, runCli } from '../helpers/cli.js';


test('an unknown flag is a usage error (exit 2) listing the valid flags, without a stack', async () => {
  const p = fixtureProject();
  const r = await p.cli(['deploy:app', '--forse']);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'Unknown flag --forse. Did you mean --force?');
  assert.match(r.stderr, '--dry-run');
  assert.match(r.stderr, '--continue');
  assert.not.match(r.stderr, /\n\s+at /);
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('bad flag values and a missing task name are usage errors', async () => {
  const p = fixtureProject();
  for (const args of [['status', '-j', '0'], ['status', '--env', 'staging'], ['status', '--graph=svg'], []]) {
    const r = await p.cli(args);
    assert.is(r.code, 2, `${args.join(' ')} → exit 2\n${r.stderr}`);
    assert.match(r.stderr, /^Error: /);
  }
  p.cleanup();
});

test('an unknown task prints the closest names (exit 2), and nothing runs', async () => {
  const p = fixtureProject();
  const r = await p.cli(['deploy:ap', 'fetch:source']);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'Unknown task "deploy:ap". Did you mean "deploy:app"?');
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('--list shows names, descriptions and deps; hidden tasks only with --all', async () => {
  const p = fixtureProject();
  const r = await p.cli(['--list']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^build:image\s+Build the image\n\s+deps: fetch:source$/m);
  assert.match(r.stdout, /^deploy:app\s+Deploy the image\n\s+deps: build:image, lint$/m);
  assert.not.match(r.stdout, 'internal:helper');
  assert.match((await p.cli(['--list', '--all'])).stdout, 'internal:helper');
  p.cleanup();
});

test('--list --json is machine-readable', async () => {
  const p = fixtureProject();
  const r = await p.cli(['--list', '--json']);
  assert.is(r.code, 0);
  const rows = JSON.parse(r.stdout) as { name: string; description: string; deps: string[]; always: boolean; args: Record<string, string> }[];
  const deploy = rows.find((t) => t.name === 'deploy:app')!;
  assert.equal(deploy.deps, ['build:image', 'lint']);
  assert.is(deploy.description, 'Deploy the image');
  assert.is(rows.find((t) => t.name === 'status')!.always, true);
  assert.equal(rows.find((t) => t.name === 'rollback:app')!.args, { to: 'revision to roll back to' });
  p.cleanup();
});

test('--graph prints the closure as mermaid, --graph=dot as dot', async () => {
  const p = fixtureProject();
  const mermaid = await p.cli(['deploy:app', '--graph']);
  assert.is(mermaid.code, 0);
  assert.match(mermaid.stdout, /^flowchart LR/);
  assert.match(mermaid.stdout, '["deploy:app"]');
  assert.not.match(mermaid.stdout, 'status');
  const dot = await p.cli(['build:image', '--graph=dot']);
  assert.match(dot.stdout, '"fetch:source" -> "build:image";');
  assert.not.match(dot.stdout, 'deploy:app');
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('--help and --version', async () => {
  const p = fixtureProject();
  const help = await p.cli(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, 'Usage: pnpm task <task...>');
  assert.match(help.stdout, '--force-all');
  const version = await p.cli(['--version']);
  assert.match(version.stdout, /^gcp-tasks \d+\.\d+\.\d+\n$/);
  p.cleanup();
});

test('a dependency cycle is reported as a → b → c → a (exit 1)', async () => {
  const r = await runCli(['--config', fixture('cycle'), 'd']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'Dependency cycle: a → b → c → a');
});

test('an invalid config lists every problem with its path, and nothing runs', async () => {
  const r = await runCli(['--config', fixture('invalid'), '--list']);
  assert.is(r.code, 1);
  for (const problem of [
    'tasks[3] (broken).run: must be a function',
    'tasks[4] (typo): Unrecognized key: "dep"',
    'tasks[2] (build).name: duplicate task name (also tasks[0])',
    'tasks[1] (deploy).deps[0]: unknown task "biuld" (did you mean "build"?)',
  ]) {
    assert.match(r.stderr, problem);
  }
});

test('invalid infra data is reported issue by issue with its path (infra.sql.tier: …)', async () => {
  const r = await runCli(['--config', fixture('bad-infra'), 'noop'], { env: { GCP_TASKS_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'gt-cli-')) } });
  assert.is(r.code, 1);
  assert.match(r.stderr, /infra\.sql\.tier: .*db-f1-micro/);
  assert.match(r.stderr, 'infra.services[1].port:');
});

test('env validation names every missing variable and runs nothing; the values then reach the task', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-cli-'));
  const env = { GCP_TASKS_STATE_DIR: dir, API_URL: undefined, REGION_CODE: undefined } as Record<string, string | undefined>;
  const bad = await runCli(['--config', fixture('env-schema'), 'show'], { env });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'API_URL: is required but not set');
  assert.match(bad.stderr, 'REGION_CODE: is required but not set');
  assert.not.ok(fs.existsSync(path.join(dir, 'logs')), 'nothing ran');
  const good = await runCli(['--config', fixture('env-schema'), 'show'], { env: { ...env, API_URL: 'https://api.example', REGION_CODE: 'eu' } });
  assert.is(good.code, 0, good.stderr);
  assert.match(good.stderr, 'API_URL=https://api.example REGION_CODE=eu');
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
