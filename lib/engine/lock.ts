// One run at a time per project + environment, like Terraform's state lock: the lock file names the
// holder (pid, host, user, command, start time, the process groups it started); a second run refuses with
// those details or waits (--lock-timeout); a lock whose holder process is gone is taken over, after ending
// the process groups the dead holder left running (a gcloud call still in flight would act after us).
// Lock files live in a per-user folder keyed by target + environment, so two clones on one machine, each
// with its own state folder, still exclude each other. A platform may supply another Lock (a lease object
// in a bucket shared by a team); the CLI only knows this interface.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from './errors.js';
import { safeFileName } from './cache.js';
import { isAlive, killGroup, watchGroups } from './processes.js';

export interface LockHolder {
  pid: number;
  host: string;
  user?: string;
  command: string;
  startedAt: string;
  /** Process groups the holder started that are still running (each command runs in its own group). */
  groups?: number[];
  /** Each group leader's start time, as the kernel counts it: tells a leftover group from a new process that got its id. */
  groupStarts?: Record<string, string>;
  /** The CI job that runs it, when known. */
  ciJob?: string;
  /** Until when a lease lock is valid unless renewed. */
  expiresAt?: string;
}

/** A holder this run took the lock from: why that was safe, and the process groups it ended. */
export interface Takeover {
  holder: LockHolder;
  why: string;
  ended: number[];
}

/** A lock this run holds. */
export interface HeldLock {
  readonly where: string;
  readonly tookOver?: Takeover;
  release(): void | Promise<void>;
}

export interface AcquireOptions {
  command: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The lock of one target + environment, wherever it is kept. */
export interface Lock {
  /** Named in messages (a file, a gs:// URL). */
  readonly where: string;
  /** Takes the lock or throws a UserError naming the holder; with timeoutMs > 0 it waits that long first. */
  acquire(opts: AcquireOptions): Promise<HeldLock>;
  /** The current holder, or null when the lock is free. */
  holder(): Promise<LockHolder | null>;
  /** Removes the lock whoever holds it (--unlock, after the user confirmed). */
  remove(): Promise<void>;
}

/** The holder in one sentence: who, where, what, since when (and the CI job). */
export function describeHolder(holder: LockHolder): string {
  const since = new Date(holder.startedAt);
  const minutes = Math.max(0, Math.round((Date.now() - since.getTime()) / 60_000));
  return (
    `pid ${holder.pid}${holder.user ? ` of ${holder.user}` : ''} on ${holder.host} (\`${holder.command}\`), since ${since.toISOString()} (${minutes} min ago)` +
    (holder.ciJob ? `, CI job ${holder.ciJob}` : '')
  );
}

/** Who this process is, as a lock names it (user, host, pid, command, start, CI job when in GitHub Actions). */
export function currentHolder(command: string, env: NodeJS.ProcessEnv = process.env): LockHolder {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return {
    pid: process.pid,
    host: os.hostname(),
    user: userName(),
    command,
    startedAt: new Date().toISOString(),
    ...(server && repo && run ? { ciJob: `${server}/${repo}/actions/runs/${run}` } : {}),
  };
}

/** The lock file of a target + environment (see lockPath). */
export function fileLock(file: string): Lock {
  return {
    where: file,
    acquire: (opts) => acquireLock(file, opts),
    holder: async () => readHolder(file) ?? (fs.existsSync(file) ? { pid: 0, host: '?', command: '(unreadable lock)', startedAt: new Date(safeMtime(file)).toISOString() } : null),
    remove: async () => fs.rmSync(file, { force: true }),
  };
}

/** The per-user folder of lock files: $XDG_STATE_HOME/gcp-tasks/locks, else ~/.local/state/gcp-tasks/locks. */
export function userLockDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'gcp-tasks', 'locks');
}

export const lockPath = (lockDir: string, key: string, env: string): string => path.join(lockDir, `${safeFileName(`${key || 'local'}.${env}`)}.lock`);

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

/** Rewrites our own lock file atomically (readers see the old holder or the new one, never half a file). */
function rewrite(file: string, holder: LockHolder): void {
  writeFileAtomic.sync(file, JSON.stringify(holder, null, 2) + '\n');
}

/** Ends a dead holder's leftover process groups; returns the ones that were still there. */
function endGroups(holder: LockHolder): number[] {
  if (holder.host !== os.hostname()) return [];
  return (holder.groups ?? []).filter((pgid) => {
    if (!Number.isInteger(pgid) || pgid <= 1 || !groupAlive(pgid)) return false;
    // Process ids are reused: a live leader that started at another time is someone else's process. (A group
    // whose leader is gone cannot have been reused: its id stays taken while any member lives.)
    const started = leaderStart(pgid);
    if (started !== null && started !== holder.groupStarts?.[pgid]) return false;
    killGroup(pgid, 'SIGKILL');
    return true;
  });
}

/** When process `pid` started (clock ticks since boot, from /proc), or null where that cannot be read. */
function leaderStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
function takeOverDead(file: string, holder: LockHolder): Takeover | null {
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
    return null;
  }
  try {
    const current = readHolder(file);
    if (current && holderAlive(current)) return null;
    // Its commands first: a request of the dead run must not land after ours.
    const ended = current ? endGroups(current) : [];
    fs.rmSync(file, { force: true });
    if (!tryCreate(file, holder)) return null;
    return current ? { holder: current, why: 'its process no longer exists', ended } : { holder: { pid: 0, host: '?', command: '(unreadable lock)', startedAt: new Date(0).toISOString() }, why: 'its lock file was torn', ended };
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

function describe(holder: LockHolder | null, file: string): string {
  if (!holder) return `The lock ${file} is held (its content is unreadable).`;
  return `Another run holds the lock: ${describeHolder(holder)}.`;
}

/** The refusal when another run holds the lock: who, and what to do. */
export function lockHeldError(message: string, where: string): UserError {
  return new UserError(message, {
    hint:
      `Only one run per project and environment may change the cloud at a time. Wait for it to finish, ` +
      `or pass --lock-timeout=<seconds> to wait. If that run no longer exists, remove its lock with pnpm task --unlock (${where}).`,
  });
}

/**
 * Takes the lock or throws a UserError naming the holder. With timeoutMs > 0 it polls until the lock is
 * free or the time is up.
 */
export async function acquireLock(file: string, opts: AcquireOptions): Promise<HeldLock & { release(): void }> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const me: LockHolder = { ...currentHolder(opts.command), groups: [] };
  const deadline = Date.now() + (opts.timeoutMs ?? 0);
  let tookOver: Takeover | undefined;
  for (;;) {
    if (tryCreate(file, me)) break;
    const holder = readHolder(file);
    if (holder && !holderAlive(holder) && (tookOver = takeOverDead(file, me) ?? undefined)) break;
    if (!holder && Date.now() - safeMtime(file) > 5_000 && (tookOver = takeOverDead(file, me) ?? undefined)) break; // torn write by a crash
    if (Date.now() >= deadline || opts.signal?.aborted) throw lockHeldError(describe(holder, file), file);
    await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
  }
  let released = false;
  // Written synchronously when a group starts, so a kill -9 right after leaves it named for the next run.
  const starts = new Map<number, string | null>();
  const unwatch = watchGroups((groups) => {
    if (released || readHolder(file)?.pid !== process.pid) return;
    for (const pgid of groups) if (!starts.has(pgid)) starts.set(pgid, leaderStart(pgid));
    const groupStarts = Object.fromEntries(groups.flatMap((pgid) => (starts.get(pgid) ? [[String(pgid), starts.get(pgid)!]] : [])));
    rewrite(file, { ...me, groups: [...groups], groupStarts });
  });
  return {
    where: file,
    tookOver,
    release() {
      if (released) return;
      released = true;
      unwatch();
      // Only remove the lock if it is still ours (it could have been deleted by hand and retaken).
      if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

function userName(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return undefined;
  }
}

function safeMtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
