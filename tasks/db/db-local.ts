// db:local and db:stop: PostgreSQL with pgvector for local development, with no GCP credentials.
// Either the embedded server (lib/postgres/local.ts) on 127.0.0.1:<localDb.port>, or — when DATABASE_URL
// points at another server that answers — that server, where pgvector is checked and enabled.
import path from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import type { InfraConfig } from '../../lib/gcp/infra.js';
import { defineTask, type JsonObject } from '../../lib/index.js';
import { withPg, type PgTarget } from '../../lib/postgres/client.js';
import { localDbStatus, startLocalDb, stopLocalDb, type LocalDbOptions } from '../../lib/postgres/local.js';
import { isPortOpen } from '../../lib/postgres/net.js';
import { enablePgvector } from '../../lib/postgres/pgvector.js';
import { registerSecret } from '../../lib/engine/redact.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { TASK } from '../shared/task-names.js';

export { localDbStatus };

export interface LocalDatabase {
  kind: 'embedded' | 'external';
  /** DATABASE_URL for the apps (an external one may carry a password: redacted in logs, never in outputs). */
  url: string;
  target: PgTarget;
  /** The embedded server was already running before this call. */
  alreadyRunning: boolean;
}

/** Where the embedded server lives for this config: port from DB_LOCAL_PORT or localDb.port, data relative to the config. */
export function localDbOptions(ctx: Pick<TaskContext, 'infra' | 'paths' | 'vars' | 'signal'>): LocalDbOptions {
  const raw = ctx.vars.DB_LOCAL_PORT ?? process.env.DB_LOCAL_PORT;
  const port = raw ? Number(raw) : ctx.infra.localDb.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UserError(`DB_LOCAL_PORT must be a port number from 1 to 65535 (got "${raw}").`, { hint: 'Unset it to use localDb.port from tasks.config.ts.' });
  return {
    stateDir: ctx.paths.stateDir,
    host: ctx.infra.localDb.host,
    port,
    dataDir: path.resolve(ctx.paths.root, ctx.infra.localDb.dataDir),
    user: ctx.infra.sql.user,
    database: ctx.infra.sql.database,
    signal: ctx.signal,
  };
}

/**
 * The local database to use, started when needed:
 * - no DATABASE_URL → the embedded server;
 * - DATABASE_URL at our running server, or at the configured local port with nothing answering → the embedded server;
 * - DATABASE_URL at any other server that answers → that server (the user's own);
 * - DATABASE_URL elsewhere that does not answer → an error.
 */
export async function resolveLocalDatabase(ctx: TaskContext): Promise<LocalDatabase> {
  const opts = localDbOptions(ctx);
  const userUrl = ctx.vars.DATABASE_URL || process.env.DATABASE_URL;
  if (userUrl) {
    const url = parseUrl(userUrl);
    registerSecret(decodeURIComponent(url.password));
    registerSecret(url.password);
    const host = url.hostname || 'localhost';
    const port = Number(url.port || 5432);
    const status = await localDbStatus(opts);
    const isOurs = status.state === 'running' && sameEndpoint(host, port, status.host, status.port);
    if (!isOurs && (await isPortOpen(host, port, 3000))) return { kind: 'external', url: userUrl, target: externalTarget(userUrl, host, port), alreadyRunning: true };
    if (!isOurs && !sameEndpoint(host, port, opts.host, opts.port))
      throw new UserError(`DATABASE_URL points at ${host}:${port}, but nothing answers there.`, {
        hint: `Start that PostgreSQL server, or unset DATABASE_URL to use the built-in local database on ${opts.host}:${opts.port}.`,
      });
  }
  const { alreadyRunning, state } = await startLocalDb(opts);
  return {
    kind: 'embedded',
    url: state.url,
    alreadyRunning,
    target: {
      label: `the local database at ${state.host}:${state.port}`,
      config: { connectionString: state.url },
      wrongPasswordHint: 'The local database accepts no password: remove it from DATABASE_URL.',
      missingDatabaseHint: `Use the database name "${opts.database}" (or "postgres").`,
      unreachableHint: `See ${state.logFile}; restart it with: pnpm task db:stop && pnpm task db:local`,
    },
  };
}

function externalTarget(url: string, host: string, port: number): PgTarget {
  return {
    label: `your PostgreSQL at ${host}:${port} (DATABASE_URL)`,
    config: { connectionString: url },
    wrongPasswordHint: 'Fix the user or password in DATABASE_URL, or unset DATABASE_URL to use the built-in local database.',
    missingDatabaseHint: 'Create that database (createdb <name>), or fix the database name in DATABASE_URL.',
    unreachableHint: 'Start that server, or unset DATABASE_URL to use the built-in local database.',
  };
}

function parseUrl(value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new UserError('DATABASE_URL is not a valid URL.', { hint: 'Use the form postgresql://user:password@host:5432/database' });
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
function sameEndpoint(hostA: string, portA: number, hostB: string, portB: number): boolean {
  const norm = (h: string) => (LOOPBACK.has(h) ? 'loopback' : h);
  return portA === portB && norm(hostA) === norm(hostB);
}

/** The URL with its password masked, for outputs that may be stored (task outputs, --json). */
export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export function dbLocalTasks(_infra: InfraConfig) {
  const dbLocal = defineTask<JsonObject>({
    name: TASK.dbLocal,
    description: 'Start PostgreSQL with pgvector for local development on 127.0.0.1 (no GCP credentials; or use DATABASE_URL)',
    local: true,
    always: true,
    async run(ctx): Promise<JsonObject> {
      if (ctx.dryRun) {
        const o = localDbOptions(ctx);
        ctx.log.info(`would start PostgreSQL with pgvector on ${o.host}:${o.port} (data in ${o.dataDir}) unless it is running`);
        return { dryRun: true };
      }
      const db = await resolveLocalDatabase(ctx);
      const pgvector = await withPg(db.target, (client) => enablePgvector(client, db.target.label));
      if (db.kind === 'external') ctx.log.success(`pgvector ${pgvector.version} is enabled on ${db.target.label}`);
      else if (db.alreadyRunning) ctx.log.info(`The local database is already running: ${db.url}`);
      else ctx.log.success(`Started the local database (PostgreSQL with pgvector ${pgvector.version}) on ${db.target.label.replace('the local database at ', '')}`);
      ctx.log.output(
        [
          `DATABASE_URL=${db.url}`,
          db.kind === 'embedded'
            ? 'Put it in .env.development (or export it); connect with: psql "' + db.url + '". Stop it with: pnpm task db:stop'
            : 'Using your own server from DATABASE_URL.',
        ].join('\n'),
      );
      return { kind: db.kind, url: maskPassword(db.url), alreadyRunning: db.alreadyRunning, pgvector: pgvector.version };
    },
  });

  const dbStop = defineTask<JsonObject>({
    name: TASK.dbStop,
    description: 'Stop the local development database started by db:local (its data stays)',
    local: true,
    always: true,
    async run(ctx): Promise<JsonObject> {
      if (ctx.dryRun) {
        ctx.log.info('would stop the local database if it runs');
        return { dryRun: true };
      }
      const stopped = await stopLocalDb(ctx.paths.stateDir);
      if (stopped) ctx.log.success(`Stopped the local database on ${stopped.host}:${stopped.port} (data kept in ${stopped.dataDir})`);
      else ctx.log.info('The local database is not running.');
      return { stopped: Boolean(stopped) };
    },
  });

  return [dbLocal, dbStop];
}
