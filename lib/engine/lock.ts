// One run at a time per project + environment, like Terraform's state lock: the lock file names the
// holder (pid, host, command, start time); a second run refuses with those details or waits
// (--lock-timeout); a lock whose holder process is gone is taken over.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from './errors.js';
import { safeFileName } from './cache.js';
import { isAlive } from './processes.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export interface Lock {
  readonly path: string;
  release(): void;
}

export const lockPath = (stateDir: string, key: string, env: string): string =>
  path.join(stateDir, 'locks', `${safeFileName(`${key || 'local'}.${env}`)}.lock`);

/** True when the holder may still be running (a holder on another host is assumed alive). */
export function holderAlive(holder: LockHolder): boolean {
  return holder.host !== os.hostname() || isAlive(holder.pid);
}

function readHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return typeof holder.pid === 'number' ? holder : null;
  } catch {
    return null;
  }
}

function tryCreate(file: string, holder: LockHolder): boolean {
  try {
    fs.writeFileSync(file, JSON.stringify(holder, null, 2) + '\n', { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Replaces a lock whose holder is dead. A short-lived guard file makes the check-and-replace atomic
 * between two runs that both find the same dead holder.
 */
function takeOverDead(file: string, holder: LockHolder): boolean {
  const guard = `${file}.takeover`;
  try {
    fs.writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch {
    // Another run is taking over right now; a guard older than 10 s was left by a crash.
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.rmSync(guard, { force: true });
    } catch {
      /* gone meanwhile */
    }
    return false;
  }
  try {
    const current = readHolder(file);
    if (current && holderAlive(current)) return false;
    fs.rmSync(file, { force: true });
    return tryCreate(file, holder);
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

function describe(holder: LockHolder | null, file: string): string {
  if (!holder) return `The lock ${file} is held (its content is unreadable).`;
  const since = new Date(holder.startedAt);
  const minutes = Math.max(0, Math.round((Date.now() - since.getTime()) / 60_000));
  return `Another run holds the lock: pid ${holder.pid} on ${holder.host} (\`${holder.command}\`), since ${since.toISOString()} (${minutes} min ago).`;
}

/**
 * Takes the lock or throws a UserError naming the holder. With timeoutMs > 0 it polls until the lock is
 * free or the time is up.
 */
export async function acquireLock(file: string, opts: { command: string; timeoutMs?: number; signal?: AbortSignal }): Promise<Lock> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: os.hostname(), command: opts.command, startedAt: new Date().toISOString() };
  const deadline = Date.now() + (opts.timeoutMs ?? 0);
  for (;;) {
    if (tryCreate(file, me)) break;
    const holder = readHolder(file);
    if (holder && !holderAlive(holder) && takeOverDead(file, me)) break;
    if (!holder && Date.now() - safeMtime(file) > 5_000 && takeOverDead(file, me)) break; // torn write by a crash
    if (Date.now() >= deadline || opts.signal?.aborted) {
      throw new UserError(describe(holder, file), {
        hint:
          `Only one run per project and environment may change the cloud at a time. Wait for it to finish, ` +
          `or pass --lock-timeout=<seconds> to wait. If that process no longer exists, delete ${file}.`,
      });
    }
    await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
  }
  let released = false;
  return {
    path: file,
    release() {
      if (released) return;
      released = true;
      // Only remove the lock if it is still ours (it could have been deleted by hand and retaken).
      if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

function safeMtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
