// Renderers turn runner events into the UI, always on stderr (stdout stays clean for --json):
// - listr2's default renderer on an interactive terminal (status, elapsed time, last output line per task);
// - a line renderer with timestamps otherwise (pipes, CI, runs with prompts), whole lines only.
// Also the end-of-run summary (text on stderr, JSON on stdout).
import { inspect } from 'node:util';
import type { RunEvent, RunSummary, TaskResult, TaskStatus } from './runner.js';
import { redact } from './redact.js';
import type { Json } from './types.js';

export interface Renderer {
  event(event: RunEvent): void;
  /** An engine message (e.g. "interrupted, waiting for running tasks"), shown at once. */
  note(text: string): void;
  end(): Promise<void>;
}

type Out = { write(text: string): unknown };

const useColor = (stream: Out) =>
  !process.env.NO_COLOR && (!!process.env.FORCE_COLOR || !!(stream as { isTTY?: boolean }).isTTY);

function palette(stream: Out) {
  const on = useColor(stream);
  const wrap = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[39m` : s);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), dim: (s: string) => (on ? `\x1b[2m${s}\x1b[22m` : s) };
}

export const formatMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

/**
 * Message and hint of anything a task may throw, as the user should read it (stack only with --verbose).
 * Never throws itself: a value without a prototype, or a `message` getter that throws, still gets a message.
 */
export function describeError(error: unknown, verbose: boolean): { message: string; hint?: string } {
  // UserError and GcloudError carry a hint (duck-typed: importing gcloud.ts here would load zx for --help).
  const hint = safely(() => (error as { hint?: unknown }).hint);
  const text = errorText(error, verbose);
  return { message: redact(verbose ? text : withoutStackLines(text)), ...(typeof hint === 'string' && hint ? { hint: redact(hint) } : {}) };
}

/** A property of a thrown value, which may be anything: one whose getter throws counts as absent. */
function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function errorText(error: unknown, verbose: boolean): string {
  if (error instanceof Error) {
    const stack = verbose ? safely(() => error.stack) : undefined;
    if (typeof stack === 'string' && stack) return stack;
    const message = safely(() => error.message);
    if (typeof message === 'string' && message) return message;
    const name = safely(() => error.name);
    return `${typeof name === 'string' && name ? name : 'Error'} without a readable message`;
  }
  if (typeof error === 'string') return error;
  return `a value that is not an Error was thrown: ${safely(() => inspect(error, { depth: 2, breakLength: Infinity })) ?? 'unreadable'}`;
}

/** zx puts the command's call site (`at AsyncLocalStorage.run (node:async_hooks:…)`) in its message. */
const STACK_LINE = /^\s*at .*(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/;
const withoutStackLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => !STACK_LINE.test(line))
    .join('\n')
    .replace(/\n\s*\n/g, '\n')
    .trim();

const STATUS_WORD: Record<TaskStatus, string> = {
  ran: 'ran',
  cached: 'cached',
  failed: 'failed',
  'skipped-dep-failed': 'skipped',
  'not-run': 'not run',
  interrupted: 'interrupted',
  'would-run': 'would run',
};

/** Timestamped lines: `12:03:04 ✔ buckets:create (1.2 s)`. Every write is one or more whole lines. */
export function createLineRenderer(opts: { stream?: Out; verbose?: boolean } = {}): Renderer {
  const out = opts.stream ?? process.stderr;
  const c = palette(out);
  const stamp = () => c.dim(new Date().toISOString().slice(11, 19));
  const say = (text: string) => out.write(`${stamp()} ${text}\n`);
  return {
    event(e) {
      switch (e.type) {
        case 'start':
          say(`${c.cyan('▶')} ${e.task} ${c.dim(`(${e.reason})`)}`);
          break;
        case 'check':
          say(`${c.cyan('?')} ${e.task} ${c.dim('(checking the live state, --refresh)')}`);
          break;
        case 'line': {
          const mark = e.level === 'error' ? c.red('✖ ') : e.level === 'warn' ? c.yellow('⚠ ') : e.level === 'success' ? c.green('✔ ') : '';
          say(`  ${c.dim(`${e.task} │`)} ${mark}${e.line}`);
          break;
        }
        case 'end':
          say(endLine(e.result, c, !!opts.verbose));
          break;
      }
    },
    note: (text) => say(c.yellow(text)),
    end: async () => {},
  };
}

function endLine(r: TaskResult, c: ReturnType<typeof palette>, verbose: boolean): string {
  switch (r.status) {
    case 'ran':
      return `${c.green('✔')} ${r.name} ${c.dim(`(${formatMs(r.durationMs)})`)}`;
    case 'cached':
      return `${c.dim('○')} ${r.name} ${c.dim('cached')}`;
    case 'would-run':
      return `${c.cyan('▷')} ${r.name} would run ${c.dim(`(${r.reason})`)}`;
    case 'failed':
      return `${c.red('✖')} ${r.name} failed${r.durationMs ? ` after ${formatMs(r.durationMs)}` : ''}: ${describeError(r.error, verbose).message}`;
    case 'interrupted':
      return `${c.red('✖')} ${r.name} interrupted after ${formatMs(r.durationMs)}`;
    case 'skipped-dep-failed':
    case 'not-run':
      return `${c.dim('↷')} ${r.name} ${STATUS_WORD[r.status]} ${c.dim(`(${r.reason})`)}`;
  }
}

/**
 * listr2's interactive renderer, fed by runner events, drawing on `stream` (a terminal). Each listr task mirrors
 * one planned task. listr2 measures the width on process.stdout (80 columns when it is piped): the CLI picks
 * this renderer only when that measure is sound.
 */
export async function createTtyRenderer(order: readonly string[], opts: { stream: NodeJS.WriteStream; verbose?: boolean }): Promise<Renderer> {
  const { DefaultRenderer, Listr, ListrLogger, ProcessOutput } = await import('listr2');
  // listr2 judges the terminal by process.stdout: with stdout piped (--json) it would fall back to a renderer
  // printing there. The CLI already checked that `stream` is a terminal.
  class StreamRenderer extends DefaultRenderer {
    static override nonTTY = true;
  }
  const dim = (s: string) => (useColor(opts.stream) ? `\x1b[2m${s}\x1b[22m` : s);
  const processOutput = new ProcessOutput(opts.stream, opts.stream);
  // The runner may finish a task before listr2 has started rendering it: results wait here.
  const ended = new Map<string, { promise: Promise<TaskResult>; resolve: (r: TaskResult) => void }>();
  for (const name of order) {
    let resolve!: (r: TaskResult) => void;
    ended.set(name, { promise: new Promise<TaskResult>((r) => (resolve = r)), resolve });
  }
  const wrappers = new Map<string, { title: string; output: string }>();
  const started = new Map<string, number>();

  const listr = new Listr(
    order.map((name) => ({
      title: `${name} ${dim('waiting')}`,
      task: async (_ctx: unknown, task: { title: string; output: string; skip(message?: string): void }) => {
        wrappers.set(name, task);
        if (started.has(name)) task.title = name;
        const result = await ended.get(name)!.promise;
        task.title = name;
        switch (result.status) {
          case 'ran':
            task.title = `${name} ${dim(`(${formatMs(result.durationMs)})`)}`;
            return;
          case 'failed':
          case 'interrupted':
            throw new Error(result.status === 'interrupted' ? 'interrupted' : describeError(result.error, !!opts.verbose).message);
          case 'cached':
            return task.skip(`${name} ${dim('cached')}`);
          default:
            return task.skip(`${name} ${dim(`${STATUS_WORD[result.status]} (${result.reason})`)}`);
        }
      },
    })),
    {
      concurrent: true, // p-limit enforces -j; listr2's own limiter would count tasks waiting on deps
      exitOnError: false,
      registerSignalListeners: false, // the CLI owns SIGINT and the exit code (130)
      renderer: StreamRenderer,
      rendererOptions: {
        logger: new ListrLogger({ processOutput, useIcons: true }),
        formatOutput: 'truncate',
        collapseSkips: true,
        collapseErrors: false,
        showErrorMessage: true,
      },
    },
  );
  const done = listr.run().catch(() => {});
  // Elapsed time of running tasks, refreshed every second (unref'd: a clock is no work to wait for).
  const ticker = setInterval(() => {
    for (const [name, at] of started) {
      const task = wrappers.get(name);
      if (task) task.title = `${name} ${dim(formatMs(Math.floor((performance.now() - at) / 1000) * 1000))}`;
    }
  }, 1000).unref();

  return {
    event(e) {
      switch (e.type) {
        case 'start':
        case 'check': {
          started.set(e.task, performance.now());
          const task = wrappers.get(e.task);
          if (task) task.title = e.task;
          break;
        }
        case 'line': {
          const task = wrappers.get(e.task);
          if (task) task.output = e.line;
          break;
        }
        case 'end':
          started.delete(e.result.name);
          ended.get(e.result.name)?.resolve(e.result);
          break;
      }
    },
    note: (text) => processOutput.toStderr(text),
    async end() {
      clearInterval(ticker);
      await done;
    },
  };
}

export interface SummaryInfo {
  env: string;
  /** Where the run acted besides the environment (the platform's target, e.g. project and region). */
  target: Record<string, string>;
  dryRun: boolean;
  /** The platform's figures: added to --json, and its line to the summary. */
  report: { json: Record<string, Json>; line?: string };
  verbose: boolean;
}

/** Every status with its count, in a fixed order (zero counts left out). */
const round1 = (ms: number) => Math.round(ms * 10) / 10;

function counts(results: readonly TaskResult[]): Partial<Record<TaskStatus, number>> {
  const out: Partial<Record<TaskStatus, number>> = {};
  for (const r of results) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

/** The failures, root failure first (the one that finished first). */
export function failures(summary: RunSummary): TaskResult[] {
  return summary.results
    .filter((r) => r.status === 'failed')
    .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
}

/** The human summary: counts, per-task times, wall time, critical path, gcloud calls, then every failure. */
export function formatSummary(summary: RunSummary, info: SummaryInfo, stream: Out = process.stderr): string {
  const c = palette(stream);
  const lines: string[] = [''];
  const count = counts(summary.results);
  const parts = (Object.keys(STATUS_WORD) as TaskStatus[]).filter((s) => count[s]).map((s) => `${count[s]} ${STATUS_WORD[s]}`);
  const where = [info.env, ...Object.entries(info.target).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`)].join(', ');
  lines.push(`${info.dryRun ? 'Dry run' : 'Summary'} (${where}): ${parts.join(', ') || 'nothing to do'} in ${formatMs(summary.wallMs)}`);

  if (info.dryRun) {
    // Preflight ran before the plan (a refusal would have ended the run): say so, it is part of the verdict.
    lines.push(`  ${c.dim('✓ preflight checks of every planned task passed')}`);
    for (const r of summary.results) {
      lines.push(`  ${r.status === 'would-run' ? c.cyan('▷ would run') : c.dim(`○ ${STATUS_WORD[r.status].padEnd(9)}`)}  ${r.name} ${c.dim(`— ${r.reason}`)}`);
    }
  } else {
    // Every task that did something (cached ones are only counted when there are many).
    const shown = summary.results.length <= 30 ? summary.results : summary.results.filter((r) => r.status !== 'cached');
    const width = Math.min(40, Math.max(0, ...shown.map((r) => r.name.length)));
    for (const r of shown) {
      const time = r.status === 'ran' || r.status === 'failed' || r.status === 'interrupted' ? formatMs(r.durationMs) : '';
      lines.push(`  ${r.name.padEnd(width)}  ${STATUS_WORD[r.status].padEnd(11)} ${time.padStart(9)}  ${c.dim(r.reason)}`);
    }
    if (summary.criticalPath.tasks.length && summary.criticalPath.ms > 0) {
      lines.push(`Critical path: ${summary.criticalPath.tasks.join(' → ')} (${formatMs(summary.criticalPath.ms)} of ${formatMs(summary.wallMs)} wall)`);
    }
  }
  if (info.report.line) lines.push(info.report.line);

  const failed = failures(summary);
  if (failed.length) {
    lines.push('', c.red(`Failed (${failed.length}), root failure first:`));
    for (const r of failed) {
      const { message, hint } = describeError(r.error, info.verbose);
      lines.push(`  ${c.red('✖')} ${r.name}: ${message.split('\n').join('\n    ')}`);
      if (hint) lines.push(`    ${c.yellow('hint:')} ${hint}`);
      if (r.log) lines.push(`    ${c.dim(`log: ${r.log}`)}`);
    }
  }
  if (summary.interrupted) lines.push(c.yellow('Interrupted: tasks that did not finish are not recorded as done; run again to continue.'));
  return lines.join('\n') + '\n';
}

/** The --json summary (stdout). */
export function jsonSummary(summary: RunSummary, info: SummaryInfo, exitCode: number): string {
  return (
    JSON.stringify(
      {
        ok: exitCode === 0,
        exitCode,
        env: info.env,
        ...info.target,
        dryRun: info.dryRun,
        wallMs: Math.round(summary.wallMs),
        criticalPath: { tasks: summary.criticalPath.tasks, ms: Math.round(summary.criticalPath.ms) },
        ...info.report.json,
        counts: counts(summary.results),
        tasks: summary.results.map((r) => ({
          name: r.name,
          status: r.status,
          reason: r.reason,
          durationMs: Math.round(r.durationMs),
          ...(r.startedAt !== undefined ? { startedAtMs: round1(r.startedAt) } : {}),
          ...(r.finishedAt !== undefined ? { finishedAtMs: round1(r.finishedAt) } : {}),
          ...(r.log ? { log: r.log } : {}),
          ...(r.cause ? { cause: r.cause } : {}),
          // What the task returned (status, list, cost: the report as data).
          ...(r.outputs !== undefined && r.outputs !== null ? { outputs: r.outputs } : {}),
          ...(r.error !== undefined ? { error: describeError(r.error, false).message } : {}),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}
