// Connecting to the Cloud SQL database from this machine. Two routes:
//  - the Cloud SQL Auth Proxy when `cloud-sql-proxy` is on PATH (started on a free loopback port with the
//    connection name, stopped by close()): works without authorised networks, IAM-authenticated, encrypted;
//  - otherwise the instance's PRIMARY (public) address when it answers (on Google this needs an authorised
//    network; in the sandbox it is the embedded server on 127.0.0.x:5432, and the sandbox has no proxy
//    endpoint: it is used without cloud-sql-proxy on PATH).
// The postgres password is read from Secret Manager and only ever lives in memory and in the pg client
// config (or a child's environment): never on a command line.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../engine/errors.js';
import { registerSecret } from '../engine/redact.js';
import type { TaskContext } from '../engine/types.js';
import { databaseUrl, type PgTarget } from './client.js';
import { freePort, isPortOpen } from './net.js';
import { pollUntil } from '../engine/wait.js';
import { sqlInstance, type SqlInstance } from '../gcp/resources.js';
import { z } from 'zod';

export type CloudSqlRoute = 'proxy' | 'direct';

export interface CloudSqlConnection {
  route: CloudSqlRoute;
  host: string;
  port: number;
  /** Client settings (password included) and the error hints for this instance. */
  target: PgTarget;
  /** DATABASE_URL for a child process (contains the password: environment only, never argv or logs). */
  url: string;
  /** Stops the proxy when one was started. */
  close(): Promise<void>;
}

const POSTGRES_PORT = 5432;
const DIRECT_PROBE_TIMEOUT_MS = 3000;
const PROXY_READY_TIMEOUT_MS = 30_000;

/** Describes the instance and fails with a clear error when it is missing, stopped or not ready. */
export async function runnableInstance(ctx: TaskContext): Promise<SqlInstance> {
  const { instance } = ctx.infra.sql;
  const described = await ctx.gcloud.read(sqlInstance, ['sql', 'instances', 'describe', instance]);
  if (!described)
    throw new UserError(`Cloud SQL instance "${instance}" does not exist in project ${ctx.project}.`, { hint: 'Create it with: pnpm task sql:create' });
  if (described.settings?.activationPolicy === 'NEVER')
    throw new UserError(`Cloud SQL instance "${instance}" is stopped (activation policy NEVER).`, { hint: 'Start it with: pnpm task sql:start' });
  if (described.state && described.state !== 'RUNNABLE')
    throw new UserError(`Cloud SQL instance "${instance}" is not ready (state ${described.state}).`, {
      hint: described.state === 'SUSPENDED' ? 'Check billing for the project, then: pnpm task sql:start' : 'Wait until it is RUNNABLE (pnpm task status) and run again.',
    });
  return described;
}

/** The postgres password from Secret Manager, registered for redaction (raw and URL-encoded). */
export async function readDatabasePassword(ctx: TaskContext): Promise<string> {
  const secret = ctx.infra.sql.passwordSecret;
  const value = await ctx.gcloud.read(z.string(), ['secrets', 'versions', 'access', 'latest', `--secret=${secret}`], { json: false, secretOutput: true });
  if (value === null || value === undefined || value === '')
    throw new UserError(`Secret "${secret}" (the ${ctx.infra.sql.user} password) has no value in Secret Manager.`, {
      hint: 'Create it with: pnpm task secrets:create (then pnpm task sql:create sets it on the instance)',
    });
  registerSecret(value);
  registerSecret(encodeURIComponent(value));
  return value;
}

/** Opens a route to the Cloud SQL database. Call close() when done. */
export async function openCloudSql(ctx: TaskContext): Promise<CloudSqlConnection> {
  const { sql } = ctx.infra;
  const described = await runnableInstance(ctx);
  const password = await readDatabasePassword(ctx);
  const proxyBin = findOnPath('cloud-sql-proxy');
  const route = proxyBin ? await startProxy(ctx, proxyBin) : await directRoute(ctx, described);
  const ssl = route.route === 'direct' && requiresSsl(described);
  const label = `Cloud SQL instance "${sql.instance}" (${route.route === 'proxy' ? 'through cloud-sql-proxy' : 'at'} ${route.host}:${route.port})`;
  const target: PgTarget = {
    label,
    config: {
      host: route.host,
      port: route.port,
      user: sql.user,
      password,
      database: sql.database,
      ...(ssl ? { ssl: { rejectUnauthorized: false } } : {}),
    },
    wrongPasswordHint:
      `The password in Secret Manager (secret "${sql.passwordSecret}", latest version) is not the instance's. ` +
      `If the secret is right, set it on the instance: pnpm task sql:create --force (applies a new secret version), or ` +
      `gcloud sql users set-password ${sql.user} --instance=${sql.instance} --prompt-for-password and paste the secret's value. ` +
      `If the instance's password is right, store it as a new version: gcloud secrets versions add ${sql.passwordSecret} --data-file=-`,
    missingDatabaseHint: 'Create it with: pnpm task sql:create',
    unreachableHint:
      route.route === 'proxy'
        ? `Check the proxy's credentials (gcloud auth login, or GOOGLE_APPLICATION_CREDENTIALS) and that the account has roles/cloudsql.client; run with --verbose for the proxy's output.`
        : `Check that the instance is running (pnpm task status) and that this machine's address is authorised (gcloud sql instances patch ${sql.instance} --authorized-networks=<your ip>/32).`,
  };
  return {
    route: route.route,
    host: route.host,
    port: route.port,
    target,
    url: databaseUrl({ host: route.host, port: route.port, user: sql.user, password, database: sql.database, ssl }),
    close: route.close,
  };
}

interface Route {
  route: CloudSqlRoute;
  host: string;
  port: number;
  close(): Promise<void>;
}

async function directRoute(ctx: TaskContext, described: SqlInstance): Promise<Route> {
  const { instance } = ctx.infra.sql;
  const ip = described.ipAddresses?.find((a) => a.type === 'PRIMARY')?.ipAddress;
  const install =
    'Install the Cloud SQL Auth Proxy (gcloud components install cloud-sql-proxy, or https://cloud.google.com/sql/docs/postgres/sql-proxy#install) and run again';
  if (!ip)
    throw new UserError(`Cannot connect to Cloud SQL instance "${instance}": cloud-sql-proxy is not installed and the instance has no public IP address.`, {
      hint: `${install}.`,
    });
  if (!(await isPortOpen(ip, POSTGRES_PORT, DIRECT_PROBE_TIMEOUT_MS)))
    throw new UserError(
      `Cannot connect to Cloud SQL instance "${instance}": cloud-sql-proxy is not installed and ${ip}:${POSTGRES_PORT} does not answer from this machine.`,
      { hint: `${install}, or authorise this machine's public IP: gcloud sql instances patch ${instance} --authorized-networks=<your ip>/32` },
    );
  ctx.log.debug(`connecting directly to ${ip}:${POSTGRES_PORT}`);
  return { route: 'direct', host: ip, port: POSTGRES_PORT, close: async () => {} };
}

async function startProxy(ctx: TaskContext, bin: string): Promise<Route> {
  const { connectionName } = ctx.infra.sql;
  const host = '127.0.0.1';
  const port = await freePort(host);
  // With a key file the proxy uses it (CI); otherwise it borrows gcloud's login, like every other task.
  const auth = process.env.GOOGLE_APPLICATION_CREDENTIALS ? [] : ['--gcloud-auth'];
  const args = [`--address=${host}`, `--port=${port}`, ...auth, connectionName];
  ctx.log.debug(`starting ${bin} ${args.join(' ')}`);
  const proxy = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line.trim()) ctx.log.debug(`cloud-sql-proxy: ${line}`);
  };
  proxy.stdout!.on('data', collect);
  proxy.stderr!.on('data', collect);
  let exited = false;
  proxy.once('exit', () => (exited = true));
  const close = () => stopProcess(proxy);
  const onAbort = () => void close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await pollUntil(
      async () => {
        if (exited) throw new UserError(`cloud-sql-proxy exited before it was ready:\n${output.trim()}`, { hint: 'Check gcloud auth login and roles/cloudsql.client.' });
        return isPortOpen(host, port, 500);
      },
      { timeoutMs: PROXY_READY_TIMEOUT_MS, intervalMs: 200, signal: ctx.signal, onTimeout: () => new UserError(`cloud-sql-proxy did not start listening on ${host}:${port} within ${PROXY_READY_TIMEOUT_MS / 1000} s.`) },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    route: 'proxy',
    host,
    port,
    close: async () => {
      ctx.signal.removeEventListener('abort', onAbort);
      await close();
    },
  };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function requiresSsl(described: SqlInstance): boolean {
  const ip = described.settings?.ipConfiguration;
  return Boolean(ip?.requireSsl) || ip?.sslMode === 'ENCRYPTED_ONLY' || ip?.sslMode === 'TRUSTED_CLIENT_CERTIFICATE_REQUIRED';
}

/** The executable's path when it is on PATH. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
