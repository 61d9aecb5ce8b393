// The local development database (db:local): an embedded PostgreSQL with pgvector run as a detached
// background process (lib/bin/db-local-server.ts), known to the tool through a state file.
// The server writes the state file once it listens and removes it when it stops, so
// "state file + live pid + answering port" means running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UserError } from '../engine/errors.js';
import { isSecretKey } from '../engine/redact.js';
import type { Paths } from '../engine/types.js';
import { databaseUrl } from './client.js';
import { isPortOpen } from './net.js';
import { pollUntil } from '../engine/wait.js';
import { isAlive } from '../engine/processes.js';

export interface LocalDbState {
  pid: number;
  host: string;
  port: number;
  /** DATABASE_URL for the apps (no password: the server only listens on loopback). */
  url: string;
  dataDir: string;
  logFile: string;
  startedAt: string;
}

export type LocalDbStatus =
  | ({ state: 'running' } & LocalDbState)
  /** The process lives but the port does not answer (starting up, or hung). */
  | ({ state: 'not-responding' } & LocalDbState)
  | { state: 'stopped' };

export interface LocalDbOptions {
  stateDir: string;
  host: string;
  port: number;
  dataDir: string;
  user: string;
  database: string;
  signal?: AbortSignal;
}

const STATE_FILE = 'db-local.json';
const LOG_FILE = 'db-local.log';
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const SERVER_SCRIPT = fileURLToPath(new URL('../bin/db-local-server.ts', import.meta.url));
// tsx's loader, so the detached node process runs the TypeScript server directly (no tsx wrapper process).
// (createRequire rather than import.meta.resolve: configs may be loaded as CommonJS, where it is missing.)
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export const localDbStateFile = (stateDir: string) => path.join(stateDir, STATE_FILE);
export const localDbLogFile = (stateDir: string) => path.join(stateDir, LOG_FILE);

/** What `status` shows for db:local. Reads only local files and probes the port. */
export async function localDbStatus(paths: Pick<Paths, 'stateDir'>): Promise<LocalDbStatus> {
  const state = readState(paths.stateDir);
  if (!state || !isOurServer(state.pid)) return { state: 'stopped' };
  return (await isPortOpen(state.host, state.port, 1000)) ? { state: 'running', ...state } : { state: 'not-responding', ...state };
}

/**
 * Starts the server in the background unless it already runs. Fails with a clear error when the port is
 * taken by something else or the server does not come up.
 */
export async function startLocalDb(opts: LocalDbOptions): Promise<{ alreadyRunning: boolean; state: LocalDbState }> {
  const current = await localDbStatus(opts);
  if (current.state === 'running') return { alreadyRunning: true, state: current };
  if (current.state === 'not-responding')
    throw new UserError(`The local database process (pid ${current.pid}) is alive but does not answer on ${current.host}:${current.port}.`, {
      hint: `Look at ${current.logFile}; stop it with: pnpm task db:stop, then run pnpm task db:local again.`,
    });
  fs.rmSync(localDbStateFile(opts.stateDir), { force: true }); // left by a server that died without cleaning up
  if (await isPortOpen(opts.host, opts.port, 1000)) throw portTaken(opts);

  fs.mkdirSync(opts.stateDir, { recursive: true });
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const logFile = localDbLogFile(opts.stateDir);
  const logFd = fs.openSync(logFile, 'a');
  const logStart = fs.fstatSync(logFd).size;
  const args = [
    '--import', TSX_LOADER, SERVER_SCRIPT,
    `--host=${opts.host}`, `--port=${opts.port}`, `--data-dir=${opts.dataDir}`, `--user=${opts.user}`,
    `--database=${opts.database}`, `--state-file=${localDbStateFile(opts.stateDir)}`, `--log-file=${logFile}`,
  ];
  // Detached in its own process group with no handle on our terminal: it outlives this run.
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], env: serverEnv() });
  fs.closeSync(logFd);
  let exitCode: number | null | undefined;
  child.once('exit', (code, signal) => (exitCode = code ?? (signal ? 128 : 1)));
  child.unref();

  const newLog = () => fs.readFileSync(logFile, 'utf8').slice(logStart).trim();
  try {
    const state = await pollUntil(
      async () => {
        if (exitCode !== undefined) {
          const output = newLog();
          if (/EADDRINUSE/.test(output)) throw portTaken(opts);
          throw new UserError(`The local database did not start (exit code ${exitCode}):\n${lastLines(output, 15)}`, { hint: `Full log: ${logFile}` });
        }
        const s = readState(opts.stateDir);
        return s && s.pid === child.pid && (await isPortOpen(s.host, s.port, 500)) ? s : undefined;
      },
      {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 150,
        signal: opts.signal,
        onTimeout: () => new UserError(`The local database did not answer on ${opts.host}:${opts.port} within ${START_TIMEOUT_MS / 1000} s.`, { hint: `Log: ${logFile}` }),
      },
    );
    return { alreadyRunning: false, state };
  } catch (err) {
    if (exitCode === undefined && child.pid) await killAndWait(child.pid);
    throw err;
  }
}

/** Stops the background server. Idempotent: resolves with the stopped server's state, or null when none ran. */
export async function stopLocalDb(stateDir: string): Promise<LocalDbState | null> {
  const state = readState(stateDir);
  const running = state !== null && isOurServer(state.pid);
  if (running) await killAndWait(state.pid);
  fs.rmSync(localDbStateFile(stateDir), { force: true });
  return running ? state : null;
}

/** The URL the apps use for the embedded server. */
export function localDbUrl(o: { host: string; port: number; user: string; database: string }): string {
  return databaseUrl(o);
}

/** The long-lived server gets no secrets or database URLs from this run's environment. */
function serverEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !isSecretKey(key) && !/^(DATABASE_URL|PG[A-Z]+)$/.test(key)));
}

function portTaken(opts: LocalDbOptions): UserError {
  return new UserError(`Port ${opts.port} on ${opts.host} is already in use by another program, so the local database cannot listen there.`, {
    hint:
      `Stop that program (a system PostgreSQL: sudo systemctl stop postgresql; see who holds it: lsof -i :${opts.port}), ` +
      `or pick another port: DB_LOCAL_PORT=<port> pnpm task db:local (or localDb.port in tasks.config.ts). ` +
      `If it is your own PostgreSQL with pgvector, set DATABASE_URL to it instead.`,
  });
}

function readState(stateDir: string): LocalDbState | null {
  try {
    return JSON.parse(fs.readFileSync(localDbStateFile(stateDir), 'utf8')) as LocalDbState;
  } catch {
    return null;
  }
}


/** Alive and, where /proc tells, really our server (a pid may have been reused since; a zombie has no cmdline). */
function isOurServer(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('db-local-server');
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}

async function killAndWait(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  try {
    await pollUntil(() => !isOurServer(pid), { timeoutMs: STOP_TIMEOUT_MS, intervalMs: 100, onTimeout: () => new Error('timeout') });
  } catch {
    process.kill(pid, 'SIGKILL');
    await pollUntil(() => !isOurServer(pid), { timeoutMs: 5000, intervalMs: 100, onTimeout: () => new UserError(`Could not stop the local database (pid ${pid}).`) });
  }
}

function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join('\n');
}
