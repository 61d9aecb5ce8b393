// The executor: runs a planned DAG of tasks. One memoised promise per task (wireit's BaseExecution):
// a task waits for its deps OUTSIDE the concurrency limiter, decides fresh/stale from its fingerprint,
// and only the work (the --refresh probe and run()) goes through p-limit, so a waiting task never holds
// a slot and every task starts the moment its own deps are done.
//
// Failure policy: running tasks finish, no new ones start (with continueOnError: every task that does not
// depend on a failure still runs). Abort: the signal reaches every running task (zx kills its children),
// nothing unfinished is recorded (not even a task that returned after the abort: it may have stopped halfway).
// A task whose promise can never settle is failed when the process runs out of things to wait on (stall.ts).
// Every observable step is an event; only renderers print.
import pLimit from 'p-limit';
import type { FingerprintContext, Json, TaskContext, TaskDef } from './types.js';
import { UserError } from './errors.js';
import { criticalPath, type TaskGraph } from './graph.js';
import { staleReason, type Fingerprint, type Fingerprinter, type RecordStore, type TaskRecord } from './cache.js';
import { logFilePath, TaskLog, type LogLevel } from './logger.js';
import { allowManyListeners } from './interrupt.js';
import { describeError } from './render.js';
import type { Stalls } from './stall.js';

export type TaskStatus =
  | 'ran'
  | 'cached'
  | 'failed'
  /** A dependency failed (or was skipped because of a failure). */
  | 'skipped-dep-failed'
  /** Never started: the run stopped (after a failure without --continue, or Ctrl-C) before its turn. */
  | 'not-run'
  /** Was running when the run was aborted. */
  | 'interrupted'
  /** --dry-run: would run (the reason says why). */
  | 'would-run';

export interface TaskResult {
  name: string;
  status: TaskStatus;
  /** Why it ran / would run / was skipped, or 'up to date'. */
  reason: string;
  /** Time spent in run() (and the --refresh probe); 0 when it did not run. */
  durationMs: number;
  /** Milliseconds since the start of the run. */
  startedAt?: number;
  finishedAt?: number;
  error?: unknown;
  outputs?: Json | void;
  /** The task's log file, when it ran. */
  log?: string;
  /** The failed task that caused a skip. */
  cause?: string;
}

export type RunEvent =
  | { type: 'start'; task: string; reason: string; at: number }
  | { type: 'check'; task: string; at: number }
  | { type: 'line'; task: string; level: LogLevel; line: string; at: number }
  | { type: 'end'; result: TaskResult; at: number };

/** What the runner needs from the outside world to fingerprint and run a task. */
export interface TaskRuntime {
  fingerprintContext(task: TaskDef): FingerprintContext;
  context(
    task: TaskDef,
    parts: { deps: Record<string, Json | void>; log: TaskLog; signal: AbortSignal; invalidate(names: string[]): Promise<void> },
  ): Promise<TaskContext>;
}

export interface RunOptions {
  graph: TaskGraph;
  /** The plan in topological order. Deps outside it (--only) use their recorded outputs. */
  order: readonly string[];
  concurrency: number;
  continueOnError?: boolean;
  /** Tasks run regardless of their record (-f / --force-all). */
  force?: ReadonlySet<string>;
  /** Run the `check` probe of cached tasks. */
  refresh?: boolean;
  /** Decide and report, run nothing, write nothing. */
  dryRun?: boolean;
  verbose?: boolean;
  store: RecordStore;
  fingerprinter: Fingerprinter;
  runtime: TaskRuntime;
  /** Logs go to `<stateDir>/logs/<task>.log`. */
  stateDir: string;
  onEvent?: (event: RunEvent) => void;
  /** Where tasks' ctx.log.stdout text goes (the CLI: process stdout, or nowhere with --json, which owns stdout). */
  stdout?: (text: string) => void;
  /** Aborting it interrupts the run (Ctrl-C). */
  signal?: AbortSignal;
  /** Told when the process has nothing left to wait on: the running tasks can then never finish. */
  stalls?: Stalls;
}

export interface RunSummary {
  /** In plan order. */
  results: TaskResult[];
  wallMs: number;
  criticalPath: { tasks: string[]; ms: number };
  interrupted: boolean;
  failed: boolean;
}

const OK: ReadonlySet<TaskStatus> = new Set(['ran', 'cached', 'would-run']);

/**
 * The recorded outputs of deps outside the plan (--only). Throws a UserError naming every dep that has
 * no record, before anything runs.
 */
async function outsideDepOutputs(opts: RunOptions): Promise<Map<string, Json | void>> {
  const inPlan = new Set(opts.order);
  const outside = [...new Set(opts.order.flatMap((n) => opts.graph.deps(n)).filter((d) => !inPlan.has(d)))];
  const records = await Promise.all(outside.map((d) => opts.store.read(d)));
  const missing = outside.filter((_, i) => !records[i]);
  if (missing.length) {
    throw new UserError(`--only needs the recorded outputs of ${missing.map((m) => `"${m}"`).join(', ')}, which never ran successfully here.`, {
      hint: `Run them first (pnpm task ${missing.join(' ')}), or drop --only to run the dependencies too.`,
    });
  }
  return new Map(outside.map((d, i) => [d, records[i]!.outputs]));
}

export async function runPlan(opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const emit = opts.onEvent ?? (() => {});
  const limit = pLimit(Math.max(1, opts.concurrency));
  const controller = new AbortController();
  allowManyListeners(controller.signal);
  const inPlan = new Set(opts.order);
  const outside = await outsideDepOutputs(opts);
  const results = new Map<string, Promise<TaskResult>>();
  let stopping: 'failure' | 'abort' | null = null;
  /** Tasks inside run() or check(), with their last screen line and a way to end them if they can never settle. */
  const running = new Map<string, { lastLine?: string; end(error: Error): void }>();
  /** Task logs being flushed: a dependent starts without waiting on its dependency's log file; the run ends after them. */
  const closingLogs: Promise<void>[] = [];

  const abort = () => {
    stopping = 'abort';
    controller.abort(new UserError('Interrupted'));
  };
  if (opts.signal?.aborted) abort();
  opts.signal?.addEventListener('abort', abort, { once: true });

  /** Tasks whose end was told: a task that ran tells it before its limiter slot is handed on, the others on settling. */
  const ended = new Set<string>();
  const finish = (result: TaskResult): TaskResult => {
    if (!ended.has(result.name)) {
      ended.add(result.name);
      emit({ type: 'end', result, at: now() });
    }
    return result;
  };
  /** Called the moment a task fails, before its limiter slot is handed to the next queued task. */
  const failed = (result: TaskResult): TaskResult => {
    if (result.status === 'failed' && !opts.continueOnError && !stopping) stopping = 'failure';
    return result;
  };
  const notRun = (name: string): TaskResult => ({
    name,
    status: 'not-run',
    reason: stopping === 'abort' ? 'interrupted before it started' : 'the run stopped after a failure',
    durationMs: 0,
  });

  const execute = (name: string): Promise<TaskResult> => {
    let result = results.get(name);
    if (!result) {
      result = executeTask(name).then(finish);
      results.set(name, result);
    }
    return result;
  };

  async function executeTask(name: string): Promise<TaskResult> {
    const task = opts.graph.tasks.get(name)!;
    const depNames = opts.graph.deps(name);
    const depResults = await Promise.all(depNames.filter((d) => inPlan.has(d)).map(execute));
    // A failed dependency explains more than one that merely did not run.
    const blocked = depResults.find((r) => r.status === 'failed' || r.status === 'skipped-dep-failed') ?? depResults.find((r) => !OK.has(r.status));
    if (blocked) {
      if (blocked.status === 'failed' || blocked.status === 'skipped-dep-failed') {
        const cause = blocked.cause ?? blocked.name;
        return { name, status: 'skipped-dep-failed', reason: `dependency ${cause} failed`, durationMs: 0, cause };
      }
      return notRun(name);
    }
    if (stopping) return notRun(name);

    const byName = new Map(depResults.map((r) => [r.name, r]));
    const deps: Record<string, Json | void> = {};
    for (const dep of depNames) deps[dep] = byName.has(dep) ? byName.get(dep)!.outputs : outside.get(dep);

    let fingerprint: Fingerprint | undefined;
    let record: TaskRecord | null = null;
    let reason: string | null;
    try {
      // --dry-run: a dependency that would run has unknown outputs, so this task's fingerprint is unknown too.
      const pending = depResults.find((r) => r.status === 'would-run');
      const forced = opts.force?.has(name);
      if (task.always) reason = 'always runs';
      else if (pending) {
        record = forced ? null : await opts.store.read(name);
        reason = forced ? 'forced' : record ? `dependency ${pending.name} will run first` : 'never ran';
      } else {
        // Computed before running (wireit): the task may change its own input files.
        fingerprint = await opts.fingerprinter.compute(task, opts.runtime.fingerprintContext(task), new Map(Object.entries(deps)));
        record = forced ? null : await opts.store.read(name);
        reason = forced ? 'forced' : staleReason(record, fingerprint);
      }
      if (reason === null && opts.refresh && task.check) reason = await limit(() => probe(task, deps));
    } catch (error) {
      return failed({ name, status: 'failed', reason: 'could not decide whether it is up to date', durationMs: 0, error, finishedAt: now() });
    }
    if (reason === null) return { name, status: 'cached', reason: 'up to date', durationMs: 0, outputs: record!.outputs };
    if (opts.dryRun) return { name, status: 'would-run', reason, durationMs: 0 };
    const why = reason;
    // The end is told inside the slot, so no task's start is ever seen before the end of the task it replaces.
    return limit(async () => finish(stopping ? notRun(name) : await run(task, why, deps, fingerprint)));
  }

  /** --refresh: the cheap live probe of a cached task. Returns a stale reason, or null when it still holds. */
  async function probe(task: TaskDef, deps: Record<string, Json | void>): Promise<string | null> {
    if (stopping) return null;
    emit({ type: 'check', task: task.name, at: now() });
    const stuck = whileRunning(task.name);
    const log = openLog(task.name);
    try {
      const ctx = await opts.runtime.context(task, { deps, log, signal: controller.signal, invalidate });
      return (await Promise.race([task.check!(ctx), stuck])) ? null : 'the live check found a difference (--refresh)';
    } finally {
      running.delete(task.name);
      closingLogs.push(log.close());
    }
  }

  async function run(task: TaskDef, reason: string, deps: Record<string, Json | void>, fingerprint?: Fingerprint): Promise<TaskResult> {
    const name = task.name;
    // Delete the record BEFORE running: if we die mid-run, the task is stale, never falsely done (wireit).
    // A task whose failure changes nothing keeps it: its record stays true, and only matches its own inputs.
    if (!task.keepRecordOnFailure) await opts.store.delete(name);
    const startedAt = now();
    emit({ type: 'start', task: name, reason, at: startedAt });
    const stuck = whileRunning(name);
    const log = openLog(name);
    const base = { name, reason, startedAt, log: log.file };
    try {
      const ctx = await opts.runtime.context(task, { deps, log, signal: controller.signal, invalidate });
      const outputs = toJson(name, await Promise.race([task.run(ctx), stuck]));
      const durationMs = now() - startedAt;
      // A task that returns after Ctrl-C (having caught its own command's failure) may have stopped halfway.
      const interrupted = controller.signal.aborted;
      if (fingerprint && !interrupted) {
        await opts.store.write({ task: name, fingerprint, outputs, finishedAt: new Date().toISOString(), durationMs: Math.round(durationMs) });
      }
      const invalidates = typeof task.invalidates === 'function' ? task.invalidates(ctx, outputs) : task.invalidates;
      if (invalidates?.length) await invalidate(invalidates);
      return { ...base, status: interrupted ? 'interrupted' : 'ran', durationMs, finishedAt: now(), outputs };
    } catch (error) {
      const status = controller.signal.aborted ? 'interrupted' : 'failed';
      // The full error goes to the log file; the screen shows the message in the end line and summary.
      log.write('debug', describeError(error, true).message);
      return failed({ ...base, status, durationMs: now() - startedAt, finishedAt: now(), error });
    } finally {
      running.delete(name);
      closingLogs.push(log.close());
    }
  }

  function openLog(name: string): TaskLog {
    return new TaskLog({
      task: name,
      file: logFilePath(opts.stateDir, name),
      verbose: !!opts.verbose,
      onLine: (level, line) => {
        const entry = running.get(name);
        if (entry) entry.lastLine = line;
        emit({ type: 'line', task: name, level, line, at: now() });
      },
      stdout: opts.stdout ?? (() => {}),
    });
  }

  async function invalidate(names: string[]): Promise<void> {
    await Promise.all(names.map((n) => opts.store.delete(n)));
  }

  /** Marks a task as running; the promise rejects if the process stalls while the task is still pending. */
  function whileRunning(name: string): Promise<never> {
    const stuck = new Promise<never>((_, reject) => running.set(name, { end: reject }));
    stuck.catch(() => {}); // raced against the task's own promise, which may not have been created yet
    return stuck;
  }

  const endStuckTasks = (): boolean => {
    for (const [name, { lastLine }] of running) {
      running.get(name)!.end(
        new UserError(`It never finished: it waits on a promise that can never settle (nothing is left that could settle it).${lastLine ? ` Its last line: "${lastLine}".` : ''}`, {
          hint: 'Make sure every promise its run() awaits resolves or rejects (a callback that is never called, a missing resolve).',
        }),
      );
    }
    const ended = running.size > 0;
    running.clear();
    return ended;
  };
  const stopWatching = opts.stalls?.during(endStuckTasks);

  try {
    const all = await Promise.all(opts.order.map(execute));
    await Promise.all(closingLogs);
    const durations = new Map(all.map((r) => [r.name, r.durationMs]));
    return {
      results: all,
      wallMs: now(),
      criticalPath: criticalPath(opts.graph, opts.order, (n) => durations.get(n) ?? 0),
      interrupted: stopping === 'abort',
      failed: all.some((r) => r.status === 'failed' || r.status === 'skipped-dep-failed'),
    };
  } finally {
    stopWatching?.();
    opts.signal?.removeEventListener('abort', abort);
  }
}

/** Task outputs are stored and handed to dependents: they must be plain JSON. */
function toJson(task: string, outputs: unknown): Json {
  if (outputs === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(outputs)) as Json;
  } catch (error) {
    throw new UserError(`Task "${task}" returned outputs that are not plain JSON: ${(error as Error).message}`, {
      hint: 'Return strings, numbers, booleans, arrays and plain objects from run().',
    });
  }
}
