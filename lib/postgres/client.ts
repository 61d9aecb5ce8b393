// Opening a node-postgres client with errors a user can act on. A failed connection becomes one
// UserError naming the server, the cause and the fix; the password never appears in it (node-postgres
// does not echo it, and the CLI redacts registered secrets anyway).
import type pg from 'pg';
import { UserError } from '../engine/errors.js';

export interface PgTarget {
  /** How the user knows this server: `Cloud SQL instance "digitwinlive-db" (via 10.0.0.3:5432)`. */
  label: string;
  config: pg.ClientConfig;
  /** What to do when the server rejects the password. */
  wrongPasswordHint: string;
  /** What to do when the database does not exist. */
  missingDatabaseHint: string;
  /** What to do when nothing answers. */
  unreachableHint: string;
}

const CONNECT_TIMEOUT_MS = 15_000;

export async function connectPg(target: PgTarget): Promise<pg.Client> {
  // Loaded here, not at import: a run that opens no database (most, and every cached one) never pays for it.
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({ connectionTimeoutMillis: CONNECT_TIMEOUT_MS, ...target.config });
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw connectionError(err, target);
  }
}

/** Runs fn with a connected client and always closes it. */
export async function withPg<T>(target: PgTarget, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectPg(target);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function connectionError(err: unknown, target: PgTarget): UserError {
  const e = err as { code?: string; message?: string };
  const user = target.config.user ?? 'postgres';
  const database = target.config.database ?? user;
  const message = e.message ?? String(err);
  if (e.code === '28P01' || e.code === '28000' || /password authentication failed|password must be/i.test(message))
    return new UserError(`${target.label} rejected the password of user "${user}".`, { hint: target.wrongPasswordHint, cause: err });
  if (e.code === '3D000')
    return new UserError(`${target.label} has no database "${database}".`, { hint: target.missingDatabaseHint, cause: err });
  if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || e.code === 'ENOTFOUND' || /timeout/i.test(message))
    return new UserError(`Cannot reach ${target.label}: ${message}.`, { hint: target.unreachableHint, cause: err });
  return new UserError(`Connecting to ${target.label} failed: ${message}`, { hint: target.unreachableHint, cause: err });
}

/** postgresql://user[:password]@host:port/database — the password URL-encoded (it may contain @ : / #). */
export function databaseUrl(c: { host: string; port: number; user: string; password?: string; database: string; ssl?: boolean }): string {
  const auth = encodeURIComponent(c.user) + (c.password ? ':' + encodeURIComponent(c.password) : '');
  const query = c.ssl ? '?sslmode=require' : '';
  return `postgresql://${auth}@${c.host}:${c.port}/${encodeURIComponent(c.database)}${query}`;
}
