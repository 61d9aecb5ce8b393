// `pnpm task`: parse the command line, load and validate the config, then either answer a question
// (--help, --version, --list, --graph, --clear-cache) or plan and run: env → platform → checks → lock → run →
// summary. Expected failures are UserErrors (message + hint, no stack); exit codes 0/1/2, and 130/129/143 when
// Ctrl-C, SIGHUP or SIGTERM stopped the run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EnvName, Prompt, TaskArgs, TaskDef } from './types.js';
import { UsageError, UserError } from './errors.js';
import { configFileOf, parseArgs, usage, wantsJson, type CliOptions } from './args.js';
import { loadConfig, type LoadedConfig } from './config.js';
import { createRuntime } from './context.js';
import { commandFor, type CommandTarget } from './command.js';
import { assertKnown, closure, toDot, toMermaid, topoOrder } from './graph.js';
import { clearRecords, Fingerprinter, recordsDir, StateStore } from './cache.js';
import { describeHolder, fileLock, lockPath, userLockDir, type HeldLock, type Lock } from './lock.js';
import { canPrompt, createPrompt } from './prompt.js';
import { describeError, formatSummary, jsonSummary, createLineRenderer, createTtyRenderer, type Renderer } from './render.js';
import { runPlan } from './runner.js';
import { createGithubRenderer, writeStepSummary } from './github.js';
import { runPreflights } from './preflight.js';
import { loadEnv } from './env.js';
import type { Platform, PlatformInput, SharedState } from './platform.js';
import { allowManyListeners, trapInterrupts, type Interrupts } from './interrupt.js';
import { killGroupsOnExit, killRunningGroups } from './processes.js';
import { watchStalls, type Stalls } from './stall.js';

export const DEFAULT_CONCURRENCY = 4; // tasks mostly wait on the network, and each cloud CLI call costs CPU

interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What a run watches besides its tasks: the stop signals, and the moment nothing can happen any more. */
interface Watch {
  interrupts: Interrupts;
  stalls: Stalls;
  /** What the CLI is doing, named when it stalls outside the tasks. */
  stage: string;
}

/** Runs the CLI for the given platform and returns the exit code. Never throws. */
export async function main(
  argv: readonly string[],
  platform: Platform,
  io: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
): Promise<number> {
  const interrupts = trapInterrupts(io);
  const stopKillingOnExit = killGroupsOnExit();
  const stalls = watchStalls();
  const watch: Watch = { interrupts, stalls, stage: 'reading the command line' };
  let opts: CliOptions | undefined;
  try {
    opts = parseArgs(argv, platform.flags);
    const stalled = new Promise<never>((_, reject) =>
      stalls.during(() => {
        reject(
          new UserError(`The run stopped while ${watch.stage}: it waits on a promise that can never settle.`, {
            hint: 'Make sure every promise awaited there resolves or rejects (a top-level await in the config, a callback never called).',
          }),
        );
        return true;
      }),
    );
    return await Promise.race([dispatch(opts, argv, io, platform, watch), stalled]);
  } catch (error) {
    const code = interrupts.exitCode() ?? (error instanceof UserError ? error.exitCode : 1);
    const { message, hint } = describeError(error, !!opts?.verbose);
    io.stderr.write(`Error: ${message}\n${hint ? `Hint: ${hint}\n` : ''}`);
    // A command line that did not parse still asked for JSON: scripts read the failure there too.
    if (opts?.json ?? wantsJson(argv)) io.stdout.write(JSON.stringify({ ok: false, exitCode: code, error: message, ...(hint ? { hint } : {}) }, null, 2) + '\n');
    return code;
  } finally {
    // No process group of the run outlives it (a command a task left running, or one a stuck task awaited).
    killRunningGroups();
    stopKillingOnExit();
    stalls.stop();
    interrupts.stop();
  }
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function dispatch(opts: CliOptions, argv: readonly string[], io: Io, platform: Platform, watch: Watch): Promise<number> {
  if (opts.help) return io.stdout.write(usage(platform.flags)), 0;
  if (opts.version) return io.stdout.write(`gcp-tasks ${version()}\n`), 0;
  const configFile = configFileOf(opts.config, io.cwd);
  watch.stage = `loading the config ${path.basename(configFile)}`;
  const loaded = await loadConfig(configFile, { verbose: opts.verbose });
  watch.stage = 'planning';
  const { graph } = loaded;
  if (opts.list) return io.stdout.write(listTasks(loaded, opts)), 0;
  assertKnown(graph, opts.targets);
  if (opts.graph) {
    const names = opts.targets.length ? closure(graph, opts.targets) : new Set(graph.tasks.keys());
    const order = topoOrder(graph, names);
    return io.stdout.write(opts.graph === 'dot' ? toDot(graph, order) : toMermaid(graph, order)), 0;
  }
  if (opts.clearCache) {
    const { stateDir, shared } = platform.locations(platformInput(loaded, opts, io));
    if (shared) return run(loaded, opts, argv, io, platform, watch); // the records are the platform's: cleared there
    const count = await clearRecords(stateDir, opts.targets.length ? opts.targets : undefined);
    io.stderr.write(`Cleared ${count} record${count === 1 ? '' : 's'} in ${stateDir}: ${opts.targets.length ? opts.targets.join(', ') : 'every task'} will run again.\n`);
    return 0;
  }
  if (opts.unlock && opts.targets.length) throw new UsageError('--unlock takes no task names.', 'Run pnpm task --unlock (with --env, --sandbox as for the run whose lock it is), then the tasks.');
  if (!opts.targets.length && !opts.unlock) throw new UsageError('No task named.', 'Name one or more tasks: pnpm task <task...>. See pnpm task --list and --help.');
  return run(loaded, opts, argv, io, platform, watch);
}

const envOf = (opts: CliOptions, io: Io): EnvName => opts.env ?? (io.env.NODE_ENV === 'production' ? 'production' : 'development');

function platformInput({ config, root }: LoadedConfig, opts: CliOptions, io: Io): PlatformInput {
  return { config, root, env: envOf(opts, io), flags: opts.platform, processEnv: io.env };
}

/** `pnpm task <rest>` with every flag that decides where a run acts, so a printed hint targets the same place. */
function commandBuilder(loaded: LoadedConfig, opts: CliOptions, env: EnvName, io: Io): (task: string, taskArgs?: readonly string[]) => string {
  const target: CommandTarget = {
    env,
    platformFlags: Object.keys(opts.platform).filter((f) => opts.platform[f]),
    ...(opts.config !== undefined && loaded.file !== configFileOf(undefined, io.cwd) ? { config: opts.config } : {}),
  };
  return (task, taskArgs) => commandFor(target, task, taskArgs);
}

function listTasks({ config }: LoadedConfig, opts: CliOptions): string {
  const tasks = config.tasks.filter((t) => opts.all || !t.hidden);
  if (opts.json) {
    const rows = tasks.map((t) => ({
      name: t.name,
      description: t.description,
      deps: t.deps ?? [],
      always: !!t.always,
      destructive: !!t.destructive,
      interactive: !!t.interactive,
      local: typeof t.local === 'function' ? 'depends on args' : !!t.local,
      args: t.args ?? {},
    }));
    return JSON.stringify(rows, null, 2) + '\n';
  }
  const width = Math.min(36, Math.max(0, ...tasks.map((t) => t.name.length)));
  return (
    tasks
      .map((t) => {
        const marks = [t.always && 'always', t.destructive && 'destructive', t.interactive && 'interactive'].filter(Boolean);
        const extra = [t.deps?.length ? `deps: ${t.deps.join(', ')}` : '', marks.length ? `[${marks.join(', ')}]` : '', t.args ? `args: ${Object.keys(t.args).map((a) => `--${a}`).join(' ')}` : '']
          .filter(Boolean)
          .join('  ');
        return `${t.name.padEnd(width)}  ${t.description}${extra ? `\n${' '.repeat(width + 2)}${extra}` : ''}`;
      })
      .join('\n') + '\n'
  );
}

/** Arguments after `--` go to the named tasks only, and must be ones they declare. */
function argsForTargets(targets: readonly string[], taskArgs: TaskArgs, tasks: ReadonlyMap<string, TaskDef>): (task: string) => TaskArgs {
  const keys = Object.keys(taskArgs);
  if (keys.length) {
    const declaring = targets.filter((t) => tasks.get(t)!.args);
    if (!declaring.length) throw new UsageError(`${targets.join(', ')} take${targets.length === 1 ? 's' : ''} no arguments (got ${keys.map((k) => `--${k}`).join(' ')}).`);
    for (const t of declaring) {
      const declared = tasks.get(t)!.args!;
      // Own keys only: `--constructor` or `--toString` is as unknown as `--bogus`.
      const unknown = keys.filter((k) => !Object.hasOwn(declared, k));
      if (unknown.length) {
        const valid = Object.entries(declared).map(([k, d]) => `--${k}=… (${d})`).join(', ');
        throw new UsageError(`Unknown argument ${unknown.map((k) => `--${k}`).join(' ')} for ${t}.`, `${t} takes: ${valid}`);
      }
    }
  }
  const named = new Set(targets);
  return (task) => (named.has(task) ? taskArgs : {});
}

async function run(loaded: LoadedConfig, opts: CliOptions, argv: readonly string[], io: Io, platform: Platform, watch: Watch): Promise<number> {
  const { config, graph, root } = loaded;
  const argsFor = argsForTargets(opts.targets, opts.taskArgs, graph.tasks);
  const order = topoOrder(graph, opts.only ? new Set(opts.targets) : closure(graph, opts.targets));
  const planned = order.map((n) => graph.tasks.get(n)!);
  const env = envOf(opts, io);
  const forceTTY = io.env.GCP_TASKS_PROMPT_TTY === '1';

  // Refuse before anything runs: a destructive task could only fail halfway through at its prompt.
  const isDestructive = (t: TaskDef) => (typeof t.destructive === 'function' ? t.destructive(argsFor(t.name)) : !!t.destructive);
  // --unlock and --clear-cache run no task: only the platform's state is needed.
  const upkeep = opts.unlock || opts.clearCache;
  const destructive = upkeep ? [] : planned.filter(isDestructive).map((t) => t.name);
  if (destructive.length && !opts.yes && !opts.dryRun && !canPrompt({ input: io.stdin, output: io.stderr, forceTTY })) {
    throw new UserError(`${destructive.join(', ')} ${destructive.length === 1 ? 'is' : 'are'} destructive and there is no terminal to confirm on.`, {
      hint: 'Pass --yes to confirm in advance (or run it in a terminal). Nothing was run.',
    });
  }

  // Ctrl-C (SIGHUP, SIGTERM) is ours from here on: it stops the run, and any question being asked.
  let renderer: Renderer | undefined;
  const { interrupts } = watch;
  interrupts.runStarted((text) => (renderer ? renderer.note(text) : io.stderr.write(`${text}\n`)));
  allowManyListeners(interrupts.signal);
  watch.stage = 'preparing the run';

  let lock: HeldLock | undefined;
  const prompt = createPrompt({ yes: opts.yes, forceTTY, input: io.stdin, output: io.stderr, signal: interrupts.signal });
  const releaseOnExit = () => lock?.release();
  process.on('exit', releaseOnExit);
  const session = await platform.open(platformInput(loaded, opts, io));
  try {
    const { stateDir, envDir, lockDir = userLockDir(io.env) } = session.locations;
    // A plan made only of local tasks (db:local) needs neither the platform nor the env validation.
    const allLocal = planned.every((t) => (typeof t.local === 'function' ? t.local(argsFor(t.name), env) : !!t.local));
    const { vars, sources } = loadEnv({
      dir: envDir,
      env,
      processEnv: io.env,
      schema: allLocal ? undefined : config.envSchema,
      defaults: session.env?.defaults,
      forced: session.env?.forced,
      overlaySource: session.env?.source,
    });
    const target = await session.start({ vars, local: allLocal, dryRun: opts.dryRun, verbose: opts.verbose, planned });
    const runtime = createRuntime({
      env,
      vars,
      envSources: sources,
      paths: { root, envDir, stateDir, ...target.paths },
      dryRun: opts.dryRun,
      verbose: opts.verbose,
      prompt,
      platform: target,
      argsFor,
      commandFor: commandBuilder(loaded, opts, env, io),
    });
    // Records, salt and lock: the platform's shared ones (a team's bucket), else this machine's.
    const shared = allLocal && !upkeep ? undefined : target.state;
    const targetLock = shared?.lock ?? fileLock(lockPath(lockDir, target.key, env));
    if (opts.unlock) return await unlock(targetLock, prompt, io);
    if (opts.clearCache && shared) return await clearShared(shared, opts.targets, io);
    await runPreflights(planned, (t) => runtime.preflightContext(t));
    if (!allLocal && (!opts.dryRun || opts.refresh)) await target.beforeRun();

    watch.stage = 'waiting for the lock';
    if (!opts.dryRun) {
      try {
        lock = await targetLock.acquire({ command: `pnpm task ${argv.join(' ')}`, timeoutMs: opts.lockTimeoutMs, signal: interrupts.signal });
      } catch (error) {
        if (interrupts.signal.aborted) return interrupts.exitCode()!;
        throw error;
      }
      if (lock.tookOver) {
        const { holder, why, ended } = lock.tookOver;
        const groups = ended.length ? `; ended the ${ended.length} process group${ended.length === 1 ? '' : 's'} it left running (${ended.join(', ')})` : '';
        io.stderr.write(`Took over the lock ${lock.where} (${why}) from ${describeHolder(holder)}${groups}.\n`);
      }
    }

    const asks = planned.some((t) => t.interactive || (isDestructive(t) && !opts.yes));
    renderer = await pickRenderer(opts, asks, order, io);
    const ui = renderer;
    const store = shared?.records ?? new StateStore(recordsDir(stateDir, target.key, env));
    const fingerprinter = new Fingerprinter({ salt: await store.salt(), root });
    watch.stage = 'running tasks';
    let summary;
    try {
      summary = await runPlan({
        graph,
        order,
        concurrency: opts.concurrency ?? config.concurrency ?? DEFAULT_CONCURRENCY,
        continueOnError: opts.continueOnError,
        force: new Set(opts.forceAll ? order : opts.force ? opts.targets : []),
        refresh: opts.refresh,
        dryRun: opts.dryRun,
        verbose: opts.verbose,
        store,
        fingerprinter,
        runtime,
        stateDir,
        onEvent: (e) => ui.event(e),
        stdout: opts.json ? undefined : (text) => io.stdout.write(text),
        signal: interrupts.signal,
        stalls: watch.stalls,
      });
    } finally {
      await ui.end();
    }
    watch.stage = 'finishing';
    const exitCode = summary.interrupted ? interrupts.exitCode() ?? 130 : summary.failed ? 1 : 0;
    const info = { env, target: target.target, dryRun: opts.dryRun, verbose: opts.verbose, report: target.report() };
    // The dry-run plan is the command's answer (stdout); a run's summary is UI (stderr). --json owns stdout.
    const textOut = opts.dryRun && !opts.json ? io.stdout : io.stderr;
    textOut.write(formatSummary(summary, info, textOut));
    if (!opts.dryRun) writeStepSummary(io.env, summary, info);
    if (opts.json) io.stdout.write(jsonSummary(summary, info, exitCode));
    return exitCode;
  } finally {
    try {
      await lock?.release();
    } catch (error) {
      // The run's own result stands; a lease lock left behind expires on its own.
      io.stderr.write(`Warning: could not release the lock ${lock!.where}: ${describeError(error, !!opts.verbose).message}. Remove it with pnpm task --unlock if it stays.\n`);
    }
    process.off('exit', releaseOnExit);
    prompt.close();
    await session.close();
  }
}

/** --clear-cache with shared state: forgets the records of this target + environment (of the named tasks, or all). */
async function clearShared(shared: SharedState, targets: readonly string[], io: Io): Promise<number> {
  const recorded = await shared.records.list();
  const names = targets.length ? recorded.filter((t) => targets.includes(t)) : recorded;
  await Promise.all(names.map((t) => shared.records.delete(t)));
  io.stderr.write(`Cleared ${names.length} record${names.length === 1 ? '' : 's'} in ${shared.where}: ${targets.length ? targets.join(', ') : 'every task'} will run again.\n`);
  return 0;
}

/** --unlock: names the holder, asks, removes the lock. A lock of a run that is still alive is its to release. */
async function unlock(lock: Lock, prompt: Prompt, io: Io): Promise<number> {
  const holder = await lock.holder();
  if (!holder) {
    io.stderr.write(`No lock to remove: ${lock.where} is free.\n`);
    return 0;
  }
  io.stderr.write(`The lock ${lock.where} is held by ${describeHolder(holder)}.\n`);
  if (!(await prompt.confirm(`Remove it? Only if that run no longer exists: a live run would go on changing the cloud unlocked.`))) {
    io.stderr.write('The lock was left in place.\n');
    return 1;
  }
  await lock.remove();
  io.stderr.write(`Removed the lock ${lock.where}.\n`);
  return 0;
}

/** listr2 on an interactive terminal; timestamped lines in CI, in pipes, and when a task may ask questions. */
async function pickRenderer(opts: CliOptions, asks: boolean, order: string[], io: Io): Promise<Renderer> {
  if (opts.dryRun) return { event() {}, note() {}, end: async () => {} }; // the plan table says it all
  // A terminal that reports no width (some CI pseudo-TTYs) gets lines, not a redrawn screen; so does one whose
  // stdout is a terminal without a width (listr2 measures the width there).
  if (io.env.GITHUB_ACTIONS === 'true') return createGithubRenderer({ stream: io.stderr, verbose: opts.verbose });
  const stderr = io.stderr as NodeJS.WriteStream;
  const stdout = io.stdout as { isTTY?: boolean; columns?: number };
  const tty = !!stderr.isTTY && !!stderr.columns && !(stdout.isTTY && !stdout.columns) && !io.env.CI && !asks;
  return tty ? createTtyRenderer(order, { stream: stderr, verbose: opts.verbose }) : createLineRenderer({ stream: io.stderr, verbose: opts.verbose });
}
