// sql:pgvector (and db:migrate --target=cloud) in the sandbox, through the real CLI and the real gcloud:
// the sandbox's Cloud SQL instance is an embedded PostgreSQL on 127.0.0.x:5432, so the extension, the
// password check and the stopped instance are all real. The results are read back like a user would:
// gcloud for the instance's address and the secret, node-postgres for the database.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { isPortOpen } from '../../../lib/postgres/net.js';
import { startSandbox, writeSandboxInfo, removeSandboxInfo, type SandboxHandle } from '../../../lib/sandbox/index.js';
import { infra as baseInfra } from '../../../tasks.config.js';
import { noCloudEnv, runCli, show, tempProject, type CliResult } from './helpers.js';

const test = gcloudTests('sql:pgvector against the sandbox');

const project = tempProject();
const sandboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-db-sandbox-'));
let sandbox: SandboxHandle;
let env: NodeJS.ProcessEnv;
const task = (...args: string[]) => runCli(['--sandbox', '--config', project.config, ...args], env, { timeoutMs: 180_000 });
const sql = () => resolveInfra(baseInfra, { env: 'development', project: sandbox.project, region: sandbox.region, vars: {} }).sql;

function gcloud(args: string[], stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('gcloud', [...args, `--project=${sandbox.project}`, '--quiet'], { env: { ...process.env, ...sandbox.gcloudEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, all: stdout + stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function instanceIp(): Promise<string> {
  const r = await gcloud(['sql', 'instances', 'describe', sql().instance, '--format=json']);
  assert.is(r.code, 0, show(r));
  const ip = JSON.parse(r.stdout).ipAddresses?.find((a: { type: string }) => a.type === 'PRIMARY')?.ipAddress;
  assert.type(ip, 'string', 'the instance reports a PRIMARY address');
  return ip;
}

async function secretValue(): Promise<string> {
  const r = await gcloud(['secrets', 'versions', 'access', 'latest', `--secret=${sql().passwordSecret}`]);
  assert.is(r.code, 0, show(r));
  return r.stdout;
}

// Read back once through gcloud (address and password), as a user would; reused by every query.
let connection: pg.ClientConfig | undefined;
async function query<T>(text: string): Promise<T[]> {
  const s = sql();
  connection ??= { host: await instanceIp(), port: 5432, user: s.user, password: await secretValue(), database: s.database };
  const client = new pg.Client(connection);
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

test.before(async () => {
  // No simulated latency: the time goes to the real gcloud and PostgreSQL work.
  sandbox = await startSandbox({ stateDir: sandboxDir, latencyScale: 0 });
  writeSandboxInfo(sandbox);
  env = noCloudEnv({ GCP_TASKS_SANDBOX_DIR: sandboxDir });
});

test.after(async () => {
  removeSandboxInfo(sandboxDir);
  await sandbox.stop();
  fs.rmSync(sandboxDir, { recursive: true, force: true });
  project.cleanup();
});

test('sql:pgvector creates what it needs and enables pgvector in the Cloud SQL database', async () => {
  const r = await task('sql:pgvector');
  assert.is(r.code, 0, show(r));
  assert.match(r.all, /pgvector [\d.]+ is enabled in database/);
  const ext = await query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
  assert.is(ext.length, 1, 'vector is in pg_extension');
  const [{ d }] = await query<{ d: number }>("SELECT ('[0,0]'::vector <-> '[3,4]'::vector)::float8 AS d");
  assert.is(d, 5);
});

test('sql:pgvector again (forced, really connecting) succeeds and changes nothing', async () => {
  const [before] = await query<{ oid: number }>("SELECT oid::int FROM pg_extension WHERE extname = 'vector'");
  const r = await task('sql:pgvector', '--force');
  assert.is(r.code, 0, show(r));
  const [after] = await query<{ oid: number }>("SELECT oid::int FROM pg_extension WHERE extname = 'vector'");
  assert.is(after.oid, before.oid, 'the same extension, not re-created');
});

test('db:migrate --target=cloud applies the sample migration to Cloud SQL', async () => {
  const r = await task('db:migrate', '--', '--target=cloud');
  assert.is(r.code, 0, show(r));
  await query('SELECT 1');
  assert.not.ok(r.all.includes(String(connection!.password)), 'the password is not printed');
  const cols = await query<{ t: string }>(
    "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = to_regclass('public.documents') AND attname = 'embedding'",
  );
  assert.equal(cols, [{ t: 'vector(768)' }]);
});

test('a password the instance rejects is a clear error that never shows a password', async () => {
  await query('SELECT 1');
  const real = String(connection!.password);
  const wrong = 'Wrong-' + Math.random().toString(36).slice(2) + '-pw';
  const add = await gcloud(['secrets', 'versions', 'add', sql().passwordSecret, '--data-file=-'], wrong);
  assert.is(add.code, 0, show(add));
  try {
    const r = await task('sql:pgvector', '--only', '--force');
    assert.is(r.code, 1, show(r));
    assert.match(r.all, /rejected the password of user "postgres"/);
    assert.match(r.all, /sql:create --force/);
    assert.not.ok(r.all.includes(wrong), 'the wrong password is not printed');
    assert.not.ok(r.all.includes(real), 'the real password is not printed');
    assert.not.match(r.all, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  } finally {
    const restore = await gcloud(['secrets', 'versions', 'add', sql().passwordSecret, '--data-file=-'], real);
    assert.is(restore.code, 0, show(restore));
  }
});

test('a stopped instance is a clear error naming sql:start', async () => {
  const ip = await instanceIp();
  const stop = await gcloud(['sql', 'instances', 'patch', sql().instance, '--activation-policy=NEVER']);
  assert.is(stop.code, 0, show(stop));
  assert.not.ok(await isPortOpen(ip, 5432), 'the stopped instance no longer answers');
  const r = await task('sql:pgvector', '--only', '--force');
  assert.is(r.code, 1, show(r));
  assert.match(r.all, /is stopped/);
  assert.match(r.all, /pnpm task sql:start/);

  const start = await gcloud(['sql', 'instances', 'patch', sql().instance, '--activation-policy=ALWAYS']);
  assert.is(start.code, 0, show(start));
  const again = await task('sql:pgvector', '--only', '--force');
  assert.is(again.code, 0, show(again));
  const rows = await query<{ n: number }>("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'");
  assert.equal(rows, [{ n: 1 }], 'the data came back with the instance');
});

test.run();
