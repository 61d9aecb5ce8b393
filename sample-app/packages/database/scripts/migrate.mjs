#!/usr/bin/env node
// Applies prisma/migrations/*/migration.sql in name order, each exactly once and in its own transaction,
// recording what ran in _sample_migrations. Needs no install: `pg` is resolved from the nearest
// node_modules up the tree (gcp-tasks' own when the app lives in its checkout) or from NODE_PATH.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'prisma', 'migrations');

function loadPg() {
  try {
    return createRequire(import.meta.url)('pg');
  } catch {
    console.error('db:migrate: the PostgreSQL driver `pg` was not found.');
    console.error('Run `pnpm install` in the app, or set NODE_PATH to a node_modules folder that has it (e.g. <gcp-tasks>/node_modules).');
    process.exit(1);
  }
}

function connectionConfig(env) {
  if (env.DATABASE_URL) return { connectionString: env.DATABASE_URL };
  return {
    host: env.DATABASE_HOST ?? '127.0.0.1',
    port: Number(env.DATABASE_PORT ?? 5432),
    database: env.DATABASE_NAME ?? 'digitwinlive-db',
    user: env.DATABASE_USER ?? 'postgres',
    password: env.DATABASE_PASSWORD,
    ssl: env.DATABASE_SSL === 'true' ? { rejectUnauthorized: false } : undefined,
  };
}

const migrations = existsSync(migrationsDir)
  ? readdirSync(migrationsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(migrationsDir, d.name, 'migration.sql')))
      .map((d) => d.name)
      .sort()
  : [];

const { Client } = loadPg();
const client = new Client(connectionConfig(process.env));
try {
  await client.connect();
  await client.query('CREATE TABLE IF NOT EXISTS _sample_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
  const done = new Set((await client.query('SELECT name FROM _sample_migrations')).rows.map((r) => r.name));
  let applied = 0;
  for (const name of migrations) {
    if (done.has(name)) continue;
    await client.query('BEGIN');
    try {
      await client.query(readFileSync(join(migrationsDir, name, 'migration.sql'), 'utf8'));
      await client.query('INSERT INTO _sample_migrations (name) VALUES ($1)', [name]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new Error(`migration ${name} failed: ${error.message}`);
    }
    console.log(`applied ${name}`);
    applied++;
  }
  console.log(applied ? `${applied} migration(s) applied` : 'database is up to date');
} catch (error) {
  console.error(`db:migrate: ${error.message}`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
