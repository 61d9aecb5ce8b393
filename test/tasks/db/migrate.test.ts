// db:migrate against the sample monorepo's migration (sample-app/packages/database/prisma/migrations) on
// the local database, and db:local with DATABASE_URL pointing at the user's own PostgreSQL.
import path from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmbeddedPostgres } from '../../../lib/postgres/embedded.js';
import { freePort } from '../../../lib/postgres/net.js';
import { localDbStatus } from '../../../tasks/db/index.js';
import { noCloudEnv, runCli, show, tempProject } from './helpers.js';

const project = tempProject();
const port = await freePort();
const env = noCloudEnv({ GCP_TASKS_STATE_DIR: project.stateDir, DB_LOCAL_PORT: String(port), CLOUDSDK_CONFIG: path.join(project.dir, 'no-gcloud') });
const task = (args: string[], extraEnv: Record<string, string> = {}) => runCli(['--config', project.config, ...args], { ...env, ...extraEnv });
const url = `postgresql://postgres@127.0.0.1:${port}/digitwinlive-db`;

async function vectorColumn(connectionString: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const r = await client.query(
      `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
       WHERE a.attrelid = to_regclass('public.documents') AND a.attname = 'embedding' AND NOT a.attisdropped`,
    );
    return r.rows[0]?.type;
  } finally {
    await client.end();
  }
}

test.after(async () => {
  await task(['db:stop']);
  project.cleanup();
});

test('db:migrate (development default: local) starts the local database and applies the sample migration', async () => {
  const r = await task(['db:migrate']);
  assert.is(r.code, 0, show(r));
  assert.match(r.all, /applied 20250101000000_init/);
  assert.is((await localDbStatus({ stateDir: project.stateDir })).state, 'running');
  assert.is(await vectorColumn(url), 'vector(768)');
});

test('db:migrate again changes nothing', async () => {
  const r = await task(['db:migrate', '--', '--target=local']);
  assert.is(r.code, 0, show(r));
  assert.match(r.all, /up to date/);
  assert.not.match(r.all, /applied 2025/);
});

test('an unknown target is a usage error (exit 2)', async () => {
  const r = await task(['db:migrate', '--', '--target=staging']);
  assert.is(r.code, 2, show(r));
  assert.match(r.all, /--target must be "local" or "cloud"/);
});

test("DATABASE_URL at the user's own server: db:local enables pgvector there and starts nothing", async () => {
  await task(['db:stop']);
  const password = 'own-server-pw-' + Math.random().toString(36).slice(2);
  const own = await startEmbeddedPostgres({ host: '127.0.0.1', port: 0, dataDir: path.join(project.dir, 'own-db'), password, database: 'appdb' });
  try {
    const ownUrl = `postgresql://postgres:${password}@127.0.0.1:${own.port}/appdb`;
    const r = await task(['db:local'], { DATABASE_URL: ownUrl });
    assert.is(r.code, 0, show(r));
    assert.match(r.all, /pgvector [\d.]+ is enabled on your PostgreSQL/);
    assert.not.ok(r.all.includes(password), 'the password from DATABASE_URL is not printed');
    assert.is((await localDbStatus({ stateDir: project.stateDir })).state, 'stopped', 'no embedded server started');

    const m = await task(['db:migrate'], { DATABASE_URL: ownUrl });
    assert.is(m.code, 0, show(m));
    assert.is(await vectorColumn(ownUrl), 'vector(768)', 'migrated the server DATABASE_URL names');
    assert.not.ok(m.all.includes(password));

    const wrong = await task(['db:local'], { DATABASE_URL: `postgresql://postgres:not-the-password@127.0.0.1:${own.port}/appdb` });
    assert.is(wrong.code, 1, show(wrong));
    assert.match(wrong.all, /rejected the password/);
    assert.not.ok(wrong.all.includes('not-the-password'), 'the wrong password is not printed either');
  } finally {
    await own.stop();
  }
});

test('DATABASE_URL at a server that does not answer is a clear error', async () => {
  const dead = await freePort();
  const r = await task(['db:local'], { DATABASE_URL: `postgresql://postgres@127.0.0.1:${dead}/x` });
  assert.is(r.code, 1, show(r));
  assert.ok(r.all.includes(`127.0.0.1:${dead}`), show(r));
  assert.match(r.all, /nothing answers/);
});

test.run();
