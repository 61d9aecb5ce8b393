// The CLI as a live subprocess for tests that talk to it while it runs: wait for a line on its stderr, answer a
// question on its stdin (kept open, unlike runCli's), send it a signal, then read how it ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { cliCommand, fixture, repoRoot, stateHome } from '../helpers/cli.js';

export interface LiveCli {
  child: ChildProcess;
  /** Resolves once `text` has appeared on stderr (rejects if the CLI ends first or after timeoutMs). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Writes to its stdin. */
  type(text: string): void;
  ended: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function startCli(config: string, args: string[], env: Record<string, string>): LiveCli {
  const child = spawn(cliCommand[0], [...cliCommand.slice(1), '--config', fixture(config), ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: undefined, XDG_STATE_HOME: stateHome, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => {
    stderr += d;
    watchers.forEach((w) => w());
  });
  const ended = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      watchers.forEach((w) => w());
      resolve({ code, stdout, stderr });
    }),
  );
  const has = (text: string | RegExp) => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
  return {
    child,
    ended,
    type: (text) => child.stdin!.write(text),
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`"${text}" did not appear within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
        const check = () => {
          if (has(text)) done();
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`the CLI ended before "${text}" appeared; stderr:\n${stderr}`));
        };
        const done = (error?: Error) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (error) reject(error);
          else resolve();
        };
        watchers.add(check);
        check();
      }),
  };
}
