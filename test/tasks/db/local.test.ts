// db:local / db:stop through the real CLI, against the real embedded PostgreSQL: no GCP credentials,
// node-postgres and psql connected at once, a vector(768) column with an HNSW index, data kept across a
// stop/start, idempotent start and stop, a port taken by another program.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { localDbStatus } from '../../../tasks/db/index.js';
import { freePort, isPortOpen } from '../../../lib/postgres/net.js';
import { noCloudEnv, psql, runCli, show, tempProject } from './helpers.js';

const project = tempProject();
const port = await freePort();
const env = noCloudEnv({ GCP_TASKS_STATE_DIR: project.stateDir, DB_LOCAL_PORT: String(port), CLOUDSDK_CONFIG: path.join(project.dir, 'no-gcloud') });
const task = (...args: string[]) => runCli([...args, '--config', project.config], env);
const url = `postgresql://postgres@127.0.0.1:${port}/digitwinlive-db`;

test.after(async () => {
  await task('db:stop');
  project.cleanup();
});

test('db:local starts PostgreSQL on the port without any GCP setup and prints the DATABASE_URL', async () => {
  const r = await task('db:local');
  assert.is(r.code, 0, show(r));
  assert.ok(r.all.includes(`DATABASE_URL=${url}`), show(r));
  assert.ok(await isPortOpen('127.0.0.1', port), 'the port answers after the task returned');
  const status = await localDbStatus({ stateDir: project.stateDir });
  assert.is(status.state, 'running');
  assert.ok(fs.existsSync(path.join(project.dir, 'db-data')), 'data folder is localDb.dataDir relative to the config');
});

test('node-postgres and psql at the same time; vector(768) column with an HNSW index', async () => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE items (id serial PRIMARY KEY, label text, embedding vector(768))');
    await client.query('CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_l2_ops)');
    const vec = (x: number) => '[' + Array.from({ length: 768 }, (_, i) => (i === 0 ? x : 0)).join(',') + ']';
    for (const [label, x] of [['near', 1], ['far', 10], ['middle', 5]] as const)
      await client.query('INSERT INTO items (label, embedding) VALUES ($1, $2)', [label, vec(x)]);

    // psql connects while the node-postgres connection stays open.
    const viaPsql = await psql(url, `SELECT label FROM items ORDER BY embedding <-> '${vec(0)}' LIMIT 1`);
    assert.is(viaPsql.code, 0, show(viaPsql));
    assert.is(viaPsql.stdout.trim(), 'near');
    const ext = await psql(url, "SELECT extname FROM pg_extension WHERE extname = 'vector'");
    assert.is(ext.stdout.trim(), 'vector', 'db:local enabled pgvector');

    const stillOpen = await client.query('SELECT count(*)::int AS n FROM items');
    assert.is(stillOpen.rows[0].n, 3, 'the first connection still works');
  } finally {
    await client.end();
  }
});

test('db:local again is a no-op that says it is running', async () => {
  const before = await localDbStatus({ stateDir: project.stateDir });
  const r = await task('db:local');
  assert.is(r.code, 0, show(r));
  assert.match(r.all, /already running/i);
  assert.ok(r.all.includes(url), show(r));
  const after = await localDbStatus({ stateDir: project.stateDir });
  assert.ok(before.state === 'running' && after.state === 'running' && before.pid === after.pid, 'same server process');
});

test('db:stop stops it (twice is fine); db:local brings it back with the data', async () => {
  const stop = await task('db:stop');
  assert.is(stop.code, 0, show(stop));
  assert.not.ok(await isPortOpen('127.0.0.1', port), 'port closed after db:stop');
  assert.is((await localDbStatus({ stateDir: project.stateDir })).state, 'stopped');
  const again = await task('db:stop');
  assert.is(again.code, 0, show(again));
  assert.match(again.all, /not running/i);

  const start = await task('db:local');
  assert.is(start.code, 0, show(start));
  const rows = await psql(url, 'SELECT label FROM items ORDER BY id');
  assert.is(rows.code, 0, show(rows));
  assert.equal(rows.stdout.trim().split('\n'), ['near', 'far', 'middle']);
  const index = await psql(url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'items_embedding_hnsw'");
  assert.match(index.stdout, /USING hnsw/);
});

test('a port taken by another program is a clear error naming the port', async () => {
  const blocker = net.createServer((s) => s.end());
  const taken = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
  const other = tempProject();
  try {
    const r = await runCli(['db:local', '--config', other.config], { ...env, GCP_TASKS_STATE_DIR: other.stateDir, DB_LOCAL_PORT: String(taken) });
    assert.is(r.code, 1, show(r));
    assert.ok(r.all.includes(`Port ${taken}`), show(r));
    assert.match(r.all, /DB_LOCAL_PORT/);
    assert.not.match(r.all, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
    assert.is((await localDbStatus({ stateDir: other.stateDir })).state, 'stopped');
  } finally {
    blocker.close();
    other.cleanup();
  }
});

test.run();
