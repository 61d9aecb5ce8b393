// Cloud SQL in the sandbox through the real gcloud: each instance is a real PostgreSQL (with pgvector) on its
// own loopback address; the password set with gcloud is the one it accepts; stop/start/delete and a sandbox
// restart really stop, bring back (with the data) and remove the server.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const INSTANCE = 'digitwinlive-db';
const PASSWORD = 'first-Secret-1';
let sandbox: TestSandbox;
let dir: string;
let ip: string;

const test = gcloudTests('Cloud SQL sandbox tests');

async function connect(password: string, database = 'appdb'): Promise<pg.Client> {
  const client = new pg.Client({ host: ip, port: 5432, user: 'postgres', password, database, connectionTimeoutMillis: 10_000 });
  await client.connect();
  return client;
}

/** The error code/message of a connection attempt, or 'connected'. */
async function tryConnect(password: string, database = 'appdb'): Promise<string> {
  try {
    const c = await connect(password, database);
    await c.end();
    return 'connected';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'ECONNREFUSED' : (err as Error).message;
  }
}

async function describe(): Promise<any> {
  const out = await sandbox.gcloud(['sql', 'instances', 'describe', INSTANCE, '--format=json']);
  assert.is(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-'));
  sandbox = await startTestSandbox({ dir });
  const enable = await sandbox.gcloud(['services', 'enable', 'sqladmin.googleapis.com']);
  assert.is(enable.code, 0, enable.stderr);
});

test.after(async () => {
  await sandbox?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('instances create with the full flag set: RUNNABLE, served on a 127.0.0.x address', async () => {
  const out = await sandbox.gcloud([
    'beta', 'sql', 'instances', 'create', INSTANCE, '--database-version=POSTGRES_15', '--tier=db-f1-micro', '--region=us-central1', '--edition=enterprise',
    '--storage-type=SSD', '--storage-size=10', '--storage-auto-increase', '--backup-start-time=03:00', '--maintenance-window-day=SUN',
    '--maintenance-window-hour=4', '--database-flags=max_connections=100', '--availability-type=zonal', '--labels=app=digitwinlive,env=development',
    `--root-password=${PASSWORD}`,
  ]);
  assert.is(out.code, 0, out.stderr);
  assert.match(out.stderr, `Created [${sandbox.handle.url}/v1beta4/projects/${sandbox.handle.project}/instances/${INSTANCE}]`);
  assert.match(out.stdout, /digitwinlive-db\s+POSTGRES_15\s+us-central1-a\s+db-f1-micro\s+127\.0\.0\.\d+\s+-\s+RUNNABLE/);

  const d = await describe();
  ip = d.ipAddresses[0].ipAddress;
  assert.match(ip, /^127\.0\.0\.\d+$/);
  assert.is(d.ipAddresses[0].type, 'PRIMARY');
  assert.is(d.connectionName, `${sandbox.handle.project}:us-central1:${INSTANCE}`);
  assert.is(d.state, 'RUNNABLE');
  const s = d.settings;
  assert.equal(
    [s.tier, s.activationPolicy, s.dataDiskSizeGb, s.dataDiskType, s.storageAutoResize, s.availabilityType, s.backupConfiguration.enabled, s.backupConfiguration.startTime],
    ['db-f1-micro', 'ALWAYS', '10', 'PD_SSD', true, 'ZONAL', true, '03:00'],
  );
  assert.equal([s.maintenanceWindow.day, s.maintenanceWindow.hour], [7, 4]);
  assert.equal(s.databaseFlags, [{ name: 'max_connections', value: '100' }]);
  assert.equal(s.userLabels, { app: 'digitwinlive', env: 'development' });
});

test('Google validation: a duplicate name (409) and a tier of the wrong edition (400)', async () => {
  const dup = await sandbox.gcloud(['sql', 'instances', 'create', INSTANCE, '--database-version=POSTGRES_15', '--tier=db-f1-micro', '--region=us-central1']);
  assert.is(dup.code, 1);
  assert.match(dup.stderr, 'is the subject of a conflict: The Cloud SQL instance already exists.');
  const plus = await sandbox.gcloud(['sql', 'instances', 'create', 'other-db', '--database-version=POSTGRES_16', '--tier=db-f1-micro', '--region=us-central1']);
  assert.is(plus.code, 1);
  assert.match(plus.stderr, 'Invalid Tier (db-f1-micro) for (ENTERPRISE_PLUS) Edition');
});

test('databases create + users set-password: the new password connects to the new database, pgvector works', async () => {
  const db = await sandbox.gcloud(['sql', 'databases', 'create', 'appdb', `--instance=${INSTANCE}`]);
  assert.is(db.code, 0, db.stderr);
  assert.match(db.stderr, 'Created database [appdb].');
  assert.match(await tryConnect(PASSWORD, 'nodb'), 'database "nodb" does not exist');

  const set = await sandbox.gcloud(['sql', 'users', 'set-password', 'postgres', `--instance=${INSTANCE}`, '--password=second-Secret-2']);
  assert.is(set.code, 0, set.stderr);
  assert.is(await tryConnect(PASSWORD), 'password authentication failed for user "postgres"');

  const c = await connect('second-Secret-2');
  await c.query('CREATE EXTENSION IF NOT EXISTS vector');
  await c.query('CREATE TABLE notes (id int, embedding vector(3))');
  await c.query("INSERT INTO notes VALUES (1, '[1,2,3]'), (2, '[3,2,1]')");
  const near = await c.query("SELECT id FROM notes ORDER BY embedding <-> '[3,2,2]' LIMIT 1");
  assert.equal(near.rows, [{ id: 2 }]);
  await c.end();
});

test('patch --activation-policy NEVER stops the server (STOPPED, connection refused); ALWAYS brings it back with its data', async () => {
  const stop = await sandbox.gcloud(['sql', 'instances', 'patch', INSTANCE, '--activation-policy=NEVER']);
  assert.is(stop.code, 0, stop.stderr);
  const list = await sandbox.gcloud(['sql', 'instances', 'list']);
  assert.match(list.stdout, /digitwinlive-db\s+POSTGRES_15.*\s+STOPPED\n/);
  // Refused — unless another sandbox running in parallel took the free address meanwhile: not ours either way.
  assert.is.not(await tryConnect('second-Secret-2'), 'connected');

  const start = await sandbox.gcloud(['sql', 'instances', 'patch', INSTANCE, '--activation-policy=ALWAYS']);
  assert.is(start.code, 0, start.stderr);
  ip = (await describe()).ipAddresses[0].ipAddress;
  const c = await connect('second-Secret-2');
  assert.equal((await c.query('SELECT count(*)::int AS n FROM notes')).rows, [{ n: 2 }]);
  await c.end();
});

test('a restarted sandbox brings the server of a running instance back, with its data and password', async () => {
  await sandbox.stop();
  assert.is.not(await tryConnect('second-Secret-2'), 'connected');
  sandbox = await startTestSandbox({ dir });
  ip = (await describe()).ipAddresses[0].ipAddress;
  const c = await connect('second-Secret-2');
  assert.equal((await c.query('SELECT id FROM notes ORDER BY id')).rows, [{ id: 1 }, { id: 2 }]);
  await c.end();
});

test('delete removes the instance, its server and its data', async () => {
  const out = await sandbox.gcloud(['sql', 'instances', 'delete', INSTANCE, '--quiet']);
  assert.is(out.code, 0, out.stderr);
  const gone = await sandbox.gcloud(['sql', 'instances', 'describe', INSTANCE]);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'NOT_FOUND: The Cloud SQL instance does not exist.');
  assert.is.not(await tryConnect('second-Secret-2'), 'connected');
  assert.not.ok(fs.existsSync(path.join(dir, 'sql', sandbox.handle.project, INSTANCE)));
});

test.run();
