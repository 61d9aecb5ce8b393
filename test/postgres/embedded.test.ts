// The embedded PostgreSQL (PGlite + pgvector behind the wire protocol): several clients at once (node-postgres
// and psql), pgvector columns, distance queries and indexes, password checks, data kept across a restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { testsNeeding } from '../helpers/skip.js';
import { PortInUseError, startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/postgres/embedded.js';
import { scramVerifier } from '../../lib/postgres/scram.js';

const PASSWORD = 'correct horse battery';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-'));
const dataDir = path.join(tmp, 'data');
const psqlTest = testsNeeding('psql', 'the psql checks of the embedded server');
let server: EmbeddedPostgres;

function client(password = PASSWORD, database = 'app') {
  return new pg.Client({ host: server.host, port: server.port, user: 'postgres', password, database });
}

/** psql with the password in its environment (never on the command line); resolves with exit code and output. */
function psql(sql: string, password: string, database = 'app'): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('psql', ['-h', server.host, '-p', String(server.port), '-U', 'postgres', '-d', database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test.before(async () => {
  server = await startEmbeddedPostgres({ host: '127.0.0.1', port: 0, dataDir, password: PASSWORD, database: 'app' });
});

test.after(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the url names the user, password, address and database', () => {
  assert.is(server.url, `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}/app`);
});

test('pgvector: vector(3) column, distance ordering, ivfflat and hnsw indexes', async () => {
  const c = client();
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS vector');
    await c.query('CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))');
    await c.query("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')");
    const nearest = await c.query("SELECT id, round((embedding <-> '[1,0,0]')::numeric, 3) AS d FROM items ORDER BY embedding <-> '[1,0,0]' LIMIT 2");
    assert.equal(nearest.rows.map((r) => r.id), [1, 3]);
    assert.is(Number(nearest.rows[1].d), 0.141);
    await c.query('CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops)');
    await c.query('CREATE INDEX items_ivf ON items USING ivfflat (embedding vector_cosine_ops) WITH (lists = 1)');
    const idx = await c.query("SELECT indexname FROM pg_indexes WHERE tablename = 'items' ORDER BY indexname");
    assert.equal(idx.rows.map((r) => r.indexname), ['items_hnsw', 'items_ivf', 'items_pkey']);
    const wrongSize = await c.query("INSERT INTO items VALUES (4, '[1,2]')").then(() => null, (e: Error) => e.message);
    assert.is(wrongSize, 'expected 3 dimensions, not 2');
  } finally {
    await c.end();
  }
});

psqlTest('node-postgres and psql are connected at the same time', async () => {
  const a = client();
  const b = client();
  await a.connect();
  await b.connect();
  try {
    await a.query("INSERT INTO items VALUES (10, '[0,0,1]')");
    const [fromPsql, fromB] = await Promise.all([psql('SELECT count(*) FROM items', PASSWORD), b.query('SELECT count(*)::int AS n FROM items')]);
    assert.is(fromPsql.status, 0, fromPsql.stderr);
    assert.is(fromPsql.stdout.trim(), '4');
    assert.is(fromB.rows[0].n, 4);
  } finally {
    await a.end();
    await b.end();
  }
});

test('a wrong password is refused with PostgreSQL\'s message (node-postgres)', async () => {
  const c = client('not the password');
  const err = await c.connect().then(() => null, (e: any) => e);
  assert.ok(err, 'connect should fail');
  assert.is(err.message, 'password authentication failed for user "postgres"');
  assert.is(err.code, '28P01');
});

psqlTest('a wrong password is refused with PostgreSQL\'s message (psql)', async () => {
  const out = await psql('SELECT 1', 'not the password');
  assert.is(out.status, 2);
  assert.match(out.stderr, 'FATAL:  password authentication failed for user "postgres"');
});

test('an unknown database is refused', async () => {
  const c = client(PASSWORD, 'nope');
  const err = await c.connect().then(() => null, (e: any) => e);
  assert.is(err?.message, 'database "nope" does not exist');
});

test('the server asks for SCRAM-SHA-256, as Cloud SQL for PostgreSQL 15+ does (not md5)', async () => {
  const request = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(server.port, server.host, () => {
      const params = Buffer.from('user\0postgres\0database\0app\0\0');
      const startup = Buffer.alloc(8);
      startup.writeInt32BE(8 + params.length, 0);
      startup.writeInt32BE(196608, 4);
      socket.write(Buffer.concat([startup, params]));
    });
    socket.once('data', (d) => (socket.destroy(), resolve(d)));
    socket.on('error', reject);
  });
  assert.is(String.fromCharCode(request[0]!), 'R', 'an authentication request');
  assert.is(request.readInt32BE(5), 10, 'AuthenticationSASL');
  assert.is(request.subarray(9).toString(), 'SCRAM-SHA-256\0\0');
});

test('a user other than postgres is refused like a wrong password (no hint which users exist)', async () => {
  const c = new pg.Client({ host: server.host, port: server.port, user: 'admin', password: PASSWORD, database: 'app' });
  const err = await c.connect().then(() => null, (e: any) => e);
  assert.is(err?.message, 'password authentication failed for user "admin"');
  assert.is(err?.code, '28P01');
});

test('setPassword: the new password works, the old one no longer does (SCRAM verifier form accepted)', async () => {
  server.setPassword(scramVerifier('second'));
  const old = client();
  assert.is(await old.connect().then(() => 'connected', (e: Error) => e.message), 'password authentication failed for user "postgres"');
  const c = client('second');
  await c.connect();
  assert.is((await c.query('SELECT 1 AS one')).rows[0].one, 1);
  await c.end();
  server.setPassword(PASSWORD);
});

test('a taken address:port is a PortInUseError', async () => {
  const err = await startEmbeddedPostgres({ host: '127.0.0.1', port: server.port, dataDir: path.join(tmp, 'other') }).then(() => null, (e) => e);
  assert.instance(err, PortInUseError);
  assert.is(err.code, 'EADDRINUSE');
  assert.match(err.message, `127.0.0.1:${server.port} is already in use`);
});

test('stop refuses connections; a restart on the same folder has the data', async () => {
  const port = server.port;
  await server.stop();
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve('connected')));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.is(refused, 'ECONNREFUSED');
  server = await startEmbeddedPostgres({ host: '127.0.0.1', port, dataDir, password: PASSWORD, database: 'app' });
  const c = client();
  await c.connect();
  const rows = await c.query("SELECT id FROM items ORDER BY embedding <-> '[0,0,1]' LIMIT 1");
  assert.equal(rows.rows, [{ id: 10 }]);
  await c.end();
});

test.run();
