// Enabling and verifying pgvector on any PostgreSQL server (Cloud SQL, the embedded local one, the user's own).
import type pg from 'pg';
import { UserError } from '../engine/errors.js';

export interface PgvectorInfo {
  /** Installed extension version, e.g. "0.8.0". */
  version: string;
  /** L2 distance of [1,2,3] and [4,5,6] as computed by the server (√27). */
  checkDistance: number;
}

/**
 * `CREATE EXTENSION IF NOT EXISTS vector`, then proves it works: the extension is listed in pg_extension
 * and a distance query returns the right number. Idempotent.
 */
export async function enablePgvector(client: pg.Client, serverLabel: string): Promise<PgvectorInfo> {
  const available = await client.query<{ default_version: string }>(
    `SELECT default_version FROM pg_available_extensions WHERE name = 'vector'`,
  );
  if (available.rowCount === 0)
    throw new UserError(`pgvector is not available on ${serverLabel} (no "vector" in pg_available_extensions).`, {
      hint: 'Install pgvector on that server (https://github.com/pgvector/pgvector#installation), or unset DATABASE_URL to use the built-in local database (pnpm task db:local).',
    });
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new UserError(`Could not enable pgvector on ${serverLabel}: ${e.message}`, {
      hint: e.code === '42501' ? 'Connect as a user allowed to create extensions (on Cloud SQL: postgres, a member of cloudsqlsuperuser).' : undefined,
      cause: err,
    });
  }
  return verifyPgvector(client, serverLabel);
}

export async function verifyPgvector(client: pg.Client, serverLabel: string): Promise<PgvectorInfo> {
  const ext = await client.query<{ extversion: string }>(`SELECT extversion FROM pg_extension WHERE extname = 'vector'`);
  if (ext.rowCount === 0) throw new UserError(`pgvector is not enabled on ${serverLabel} (not in pg_extension).`);
  const dist = await client.query<{ d: number }>(`SELECT ('[1,2,3]'::vector <-> '[4,5,6]'::vector)::float8 AS d`);
  const checkDistance = Number(dist.rows[0]?.d);
  if (!(Math.abs(checkDistance - Math.sqrt(27)) < 1e-6))
    throw new UserError(`pgvector on ${serverLabel} returned a wrong distance (${checkDistance}, expected ${Math.sqrt(27)}).`);
  return { version: ext.rows[0]!.extversion, checkDistance };
}
