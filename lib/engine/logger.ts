// The per-task log: every line a task produces (its logger and the output of its zx commands) goes,
// redacted, to `<stateDir>/logs/<task>.log`, and the lines meant for the screen go to the renderer as
// whole lines, so the output of parallel tasks never interleaves mid-line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogEntry } from 'zx';
import type { Logger } from './types.js';
import { redact } from './redact.js';
import { safeFileName } from './cache.js';

export type LogLevel = 'info' | 'success' | 'warn' | 'error' | 'debug' | 'output' | 'cmd' | 'stdout' | 'stderr';

/** Levels shown without --verbose; command lines and raw command output are in the log file. */
const QUIET_LEVELS: ReadonlySet<LogLevel> = new Set(['info', 'success', 'warn', 'error', 'output']);

export const logFilePath = (stateDir: string, task: string): string => path.join(stateDir, 'logs', `${safeFileName(task)}.log`);

/** Log folders already created by this process (one mkdir per run, not one per task). */
const madeDirs = new Set<string>();

export class TaskLog {
  readonly file: string;
  readonly logger: Logger;
  /** Buffered and opened off the main thread: a 1,000-task run must not wait on 1,000 synchronous opens. */
  readonly #stream: fs.WriteStream;
  readonly #verbose: boolean;
  readonly #onLine: (level: LogLevel, line: string) => void;
  /** Unfinished lines of running commands, by zx process id and stream. */
  readonly #partial = new Map<string, string>();

  constructor(opts: { task: string; file: string; verbose: boolean; onLine: (level: LogLevel, line: string) => void; stdout?: (text: string) => void }) {
    this.file = opts.file;
    this.#verbose = opts.verbose;
    this.#onLine = opts.onLine;
    const dir = path.dirname(opts.file);
    if (!madeDirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      madeDirs.add(dir);
    }
    this.#stream = fs.createWriteStream(opts.file, { flags: 'w', mode: 0o600 });
    this.#stream.on('error', () => {}); // a log that cannot be written must not crash the run
    this.#stream.write(`# ${opts.task} — started ${new Date().toISOString()}\n`);
    const text = (level: LogLevel) => (message: string) => this.write(level, String(message));
    this.logger = {
      info: text('info'),
      success: text('success'),
      warn: text('warn'),
      error: text('error'),
      debug: text('debug'),
      output: text('output'),
      // Pipe-friendly task output (list): to the process's stdout as given, and into the log file.
      stdout: (message: string) => {
        for (const line of String(message).replace(/\r?\n$/, '').split(/\r?\n/)) this.#stream.write(`${redact(line)}\n`);
        opts.stdout?.(redact(String(message)));
      },
    };
  }

  /** Writes each line of `text` (redacted) to the file, and to the screen when its level is shown. */
  write(level: LogLevel, text: string): void {
    const shown = this.#verbose || QUIET_LEVELS.has(level);
    for (const raw of text.replace(/\r?\n$/, '').split(/\r?\n/)) {
      const line = redact(raw);
      this.#stream.write(level === 'info' || level === 'output' || level === 'stdout' ? `${line}\n` : `[${level}] ${line}\n`);
      if (shown) this.#onLine(level, line);
    }
  }

  /** zx's `log` option: command lines and their output, split into whole lines per process and stream. */
  readonly zxLog = (entry: LogEntry): void => {
    switch (entry.kind) {
      case 'cmd':
        this.write('cmd', `$ ${entry.cmd}`);
        break;
      case 'stdout':
      case 'stderr': {
        const key = `${entry.id}:${entry.kind}`;
        const lines = ((this.#partial.get(key) ?? '') + entry.data.toString()).split('\n');
        this.#partial.set(key, lines.pop()!);
        if (lines.length) this.write(entry.kind, lines.join('\n'));
        break;
      }
      case 'end':
        for (const kind of ['stdout', 'stderr'] as const) {
          const rest = this.#partial.get(`${entry.id}:${kind}`);
          if (rest) this.write(kind, rest);
          this.#partial.delete(`${entry.id}:${kind}`);
        }
        if (entry.exitCode) this.write('debug', `exit code ${entry.exitCode}${entry.signal ? ` (${entry.signal})` : ''}`);
        break;
      default:
        break;
    }
  };

  /** Flushes and closes the file (a log write error never fails the task: the output was shown anyway). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#stream.once('error', () => resolve());
      this.#stream.end(() => resolve());
    });
  }
}
