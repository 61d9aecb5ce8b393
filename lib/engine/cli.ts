// `pnpm task`: parse the command line, load and validate the config, then either answer a question
// (--help, --version, --list, --graph, --clear-cache) or plan and run: env → infra → checks → lock → run →
// summary. Expected failures are UserErrors (message + hint, no stack); exit codes 0/1/2/130.
import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EnvName, TaskArgs, TaskDef } from './types.js';
import { UsageError, UserError } from './errors.js';
import { parseArgs, usage, type CliOptions } from './args.js';
import { loadConfig, resolveConfigInfra, type LoadedConfig } from './config.js';
import { assertKnown, closure, toDot, toMermaid, topoOrder } from './graph.js';
import { clearRecords, Fingerprinter, loadSalt, recordsDir, StateStore } from './cache.js';
import { acquireLock, lockPath, type Lock } from './lock.js';
import { canPrompt, createPrompt } from './prompt.js';
import { describeError, formatSummary, jsonSummary, createLineRenderer, createTtyRenderer, type Renderer } from './render.js';
import { runPlan } from './runner.js';
import { runPreflights } from './preflight.js';
import { loadEnv } from './env.js';
import type { GcloudStats } from '../gcp/gcloud.js';
import type { SandboxHandle } from '../sandbox/index.js';

export const DEFAULT_CONCURRENCY = 4; // tasks mostly wait on the network; each gcloud call costs ~0.5 s CPU on 2 cores

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Runs the CLI and returns the exit code. Never throws. */
export async function main(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }): Promise<number> {
  let opts: CliOptions | undefined;
  try {
    opts = parseArgs(argv);
    return await dispatch(opts, argv, io);
  } catch (error) {
    const code = error instanceof UserError ? error.exitCode : 1;
    const { message, hint } = describeError(error, !!opts?.verbose);
    io.stderr.write(`Error: ${message}\n${hint ? `Hint: ${hint}\n` : ''}`);
    if (opts?.json) io.stdout.write(JSON.stringify({ ok: false, exitCode: code, error: message, ...(hint ? { hint } : {}) }, null, 2) + '\n');
    return code;
  }
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function dispatch(opts: CliOptions, argv: readonly string[], io: Io): Promise<number> {
  if (opts.help) return io.stdout.write(usage()), 0;
  if (opts.version) return io.stdout.write(`gcp-tasks ${version()}\n`), 0;
  const loaded = await loadConfig(path.resolve(io.cwd, opts.config ?? 'tasks.config.ts'), { verbose: opts.verbose });
  const { graph } = loaded;
  if (opts.list) return io.stdout.write(listTasks(loaded, opts)), 0;
  assertKnown(graph, opts.targets);
  if (opts.graph) {
    const names = opts.targets.length ? closure(graph, opts.targets) : new Set(graph.tasks.keys());
    const order = topoOrder(graph, names);
    return io.stdout.write(opts.graph === 'dot' ? toDot(graph, order) : toMermaid(graph, order)), 0;
  }
  if (opts.clearCache) {
    const { stateDir } = locations(loaded, opts, io.env);
    const count = await clearRecords(stateDir, opts.targets.length ? opts.targets : undefined);
    io.stderr.write(`Cleared ${count} record${count === 1 ? '' : 's'} in ${stateDir}: ${opts.targets.length ? opts.targets.join(', ') : 'every task'} will run again.\n`);
    return 0;
  }
  if (!opts.targets.length) throw new UsageError('No task named.', 'Name one or more tasks: pnpm task <task...>. See pnpm task --list and --help.');
  return run(loaded, opts, argv, io);
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

/** Where state (cache records, logs, lock) and env files live, with or without --sandbox. */
function locations({ root }: LoadedConfig, opts: CliOptions, env: NodeJS.ProcessEnv): { stateDir: string; envDir: string; sandboxDir?: string } {
  if (opts.sandbox) {
    const sandboxDir = path.resolve(root, env.GCP_TASKS_SANDBOX_DIR || '.sandbox');
    return { stateDir: path.join(sandboxDir, 'task-state'), envDir: sandboxDir, sandboxDir };
  }
  return { stateDir: path.resolve(root, env.GCP_TASKS_STATE_DIR || '.task-state'), envDir: root };
}

/** Arguments after `--` go to the named tasks only, and must be ones they declare. */
function argsForTargets(targets: readonly string[], taskArgs: TaskArgs, tasks: ReadonlyMap<string, TaskDef<any>>): (task: string) => TaskArgs {
  const keys = Object.keys(taskArgs);
  if (keys.length) {
    const declaring = targets.filter((t) => tasks.get(t)!.args);
    if (!declaring.length) throw new UsageError(`${targets.join(', ')} take${targets.length === 1 ? 's' : ''} no arguments (got ${keys.map((k) => `--${k}`).join(' ')}).`);
    for (const t of declaring) {
      const declared = tasks.get(t)!.args!;
      const unknown = keys.filter((k) => !(k in declared));
      if (unknown.length) {
        const valid = Object.entries(declared).map(([k, d]) => `--${k}=… (${d})`).join(', ');
        throw new UsageError(`Unknown argument ${unknown.map((k) => `--${k}`).join(' ')} for ${t}.`, `${t} takes: ${valid}`);
      }
    }
  }
  const named = new Set(targets);
  return (task) => (named.has(task) ? taskArgs : {});
}

async function run(loaded: LoadedConfig, opts: CliOptions, argv: readonly string[], io: Io): Promise<number> {
  const { config, graph, root } = loaded;
  const argsFor = argsForTargets(opts.targets, opts.taskArgs, graph.tasks);
  const order = topoOrder(graph, opts.only ? new Set(opts.targets) : closure(graph, opts.targets));
  const planned = order.map((n) => graph.tasks.get(n)!);
  const env: EnvName = opts.env ?? (io.env.NODE_ENV === 'production' ? 'production' : 'development');
  const forceTTY = io.env.GCP_TASKS_PROMPT_TTY === '1';

  // Refuse before anything runs: a destructive task could only fail halfway through at its prompt.
  const isDestructive = (t: TaskDef<any>) => (typeof t.destructive === 'function' ? t.destructive(argsFor(t.name)) : !!t.destructive);
  const destructive = planned.filter(isDestructive).map((t) => t.name);
  if (destructive.length && !opts.yes && !opts.dryRun && !canPrompt({ forceTTY })) {
    throw new UserError(`${destructive.join(', ')} ${destructive.length === 1 ? 'is' : 'are'} destructive and there is no terminal to confirm on.`, {
      hint: 'Pass --yes to confirm in advance (or run it in a terminal). Nothing was run.',
    });
  }

  const where = locations(loaded, opts, io.env);
  let sandbox: SandboxHandle | undefined;
  let lock: Lock | undefined;
  const prompt = createPrompt({ yes: opts.yes, forceTTY });
  const releaseOnExit = () => lock?.release();
  let removeSignalHandlers: (() => void) | undefined;
  process.on('exit', releaseOnExit);
  try {
    if (where.sandboxDir) {
      const { connectOrStartSandbox } = await import('../sandbox/index.js');
      sandbox = await connectOrStartSandbox({ stateDir: where.sandboxDir });
    }
    // A plan made only of local tasks (db:local) needs no cloud env and no gcloud.
    const allLocal = planned.every((t) => (typeof t.local === 'function' ? t.local(argsFor(t.name), env) : !!t.local));
    const needsGcloud = !!config.infra && !allLocal;
    const sandboxTarget = sandbox && { project: sandbox.project, region: sandbox.region };
    const { vars } = loadEnv({
      dir: where.envDir,
      env,
      processEnv: io.env,
      schema: allLocal ? undefined : config.envSchema,
      defaults: sandboxTarget && config.sandboxVars?.(env, sandboxTarget),
      forced: sandboxTarget && { GCP_PROJECT_ID: sandboxTarget.project, GCP_REGION: sandboxTarget.region },
    });
    const project = vars.GCP_PROJECT_ID ?? '';
    const region = vars.GCP_REGION ?? '';
    const infra = resolveConfigInfra(config, { env, project, region, vars });
    const gcloudEnv = sandbox?.gcloudEnv ?? {};
    // Loaded only for a run: context.ts brings zx (lazily), which --help/--list/--graph never need.
    const [{ checkGcloud }, { createRuntime }] = await Promise.all([import('../gcp/gcloud.js'), import('./context.js')]);
    const gcloudStats: GcloudStats = { calls: 0, retries: 0, commands: [] };
    const runtime = createRuntime({
      env,
      vars,
      infra,
      project,
      region,
      paths: { root, envDir: where.envDir, stateDir: where.stateDir, appRoot: path.resolve(root, vars.APP_ROOT || infra?.appRoot || '.') },
      dryRun: opts.dryRun,
      verbose: opts.verbose,
      sandbox: sandbox && { url: sandbox.url, stateDir: sandbox.stateDir },
      prompt,
      gcloudEnv,
      gcloudStats,
      argsFor,
    });
    await runPreflights(planned, (t) => runtime.preflightContext(t));
    if (needsGcloud && (!opts.dryRun || opts.refresh)) await checkGcloud({ ...(io.env as Record<string, string>), ...gcloudEnv });

    // Ctrl-C is ours from here on: while waiting for the lock, and during the run.
    let renderer: Renderer | undefined;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // every running command listens for the abort
    removeSignalHandlers = onInterrupt(io, (text) => (renderer ? renderer.note(text) : io.stderr.write(`${text}\n`)), controller);
    if (!opts.dryRun) {
      const file = lockPath(where.stateDir, project, env);
      try {
        lock = await acquireLock(file, { command: `pnpm task ${argv.join(' ')}`, timeoutMs: opts.lockTimeoutMs, signal: controller.signal });
      } catch (error) {
        if (controller.signal.aborted) return 130;
        throw error;
      }
    }

    const asks = planned.some((t) => t.interactive || (isDestructive(t) && !opts.yes));
    renderer = await pickRenderer(opts, asks, order, io);
    const ui = renderer;
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
        store: new StateStore(recordsDir(where.stateDir, project, env)),
        fingerprinter: new Fingerprinter({ salt: loadSalt(where.stateDir), root }),
        runtime,
        stateDir: where.stateDir,
        onEvent: (e) => ui.event(e),
        stdout: opts.json ? undefined : (text) => io.stdout.write(text),
        signal: controller.signal,
      });
    } finally {
      await ui.end();
    }
    const exitCode = summary.interrupted ? 130 : summary.failed ? 1 : 0;
    const info = { env, project, region, dryRun: opts.dryRun, verbose: opts.verbose, gcloud: { calls: gcloudStats.calls, retries: gcloudStats.retries } };
    // The dry-run plan is the command's answer (stdout); a run's summary is UI (stderr). --json owns stdout.
    const textOut = opts.dryRun && !opts.json ? io.stdout : io.stderr;
    textOut.write(formatSummary(summary, info, textOut));
    if (opts.json) io.stdout.write(jsonSummary(summary, info, exitCode));
    return exitCode;
  } finally {
    removeSignalHandlers?.();
    lock?.release();
    process.off('exit', releaseOnExit);
    prompt.close();
    if (sandbox?.owned) await sandbox.stop();
  }
}

/**
 * First Ctrl-C (or SIGTERM): abort the run — running tasks get the signal, nothing new starts. Second: exit
 * at once (the exit handlers release the lock and kill the tasks' process groups). We own these signals:
 * listr2's own handler would exit 127.
 */
function onInterrupt(io: Io, note: (text: string) => void, controller: AbortController): () => void {
  let signals = 0;
  const handler = () => {
    if (++signals > 1) {
      io.stderr.write('\nInterrupted again: exiting now.\n');
      process.exit(130);
    }
    note('Interrupted: stopping running tasks (Ctrl-C again to exit at once)…');
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** listr2 on an interactive terminal; timestamped lines in CI, in pipes, and when a task may ask questions. */
async function pickRenderer(opts: CliOptions, asks: boolean, order: string[], io: Io): Promise<Renderer> {
  if (opts.dryRun) return { event() {}, note() {}, end: async () => {} }; // the plan table says it all
  // A terminal that reports no width (some CI pseudo-TTYs) gets lines, not a redrawn screen.
  const stderr = io.stderr as { isTTY?: boolean; columns?: number };
  const tty = !!stderr.isTTY && !!stderr.columns && !io.env.CI && !asks;
  return tty ? createTtyRenderer(order, { verbose: opts.verbose }) : createLineRenderer({ stream: io.stderr, verbose: opts.verbose });
}
