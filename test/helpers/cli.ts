// Runs the real CLI (`node lib/loader/task.cjs`, as `pnpm task` does) as a subprocess, the way a user or CI does.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Exactly what `pnpm task` runs: one node process running the compiled CLI (signals reach the CLI itself). */
export const cliCommand = [process.execPath, path.join(repoRoot, 'lib', 'loader', 'task.cjs')] as const;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to the inherited environment (CI=1 and NO_COLOR=1 are set unless overridden). */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then closed (stdin is a pipe: never a TTY). */
  stdin?: string;
  timeoutMs?: number;
  /** Called with the child as soon as it is spawned (e.g. to send SIGINT). */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

/** Lock files live in a per-user folder: one per test process, so test files running in parallel never share it. */
export const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-state-home-'));

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cliCommand[0], [...cliCommand.slice(1), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: undefined, XDG_STATE_HOME: stateHome, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pnpm task ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
    opts.onSpawn?.(child);
  });
}

/** A fixture config of test/fixtures/. */
export const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', `${name}.config.ts`);

/**
 * A fresh state folder and marker folder; `cli()` runs a fixture config against them and `ran()` lists the
 * tasks that really ran (the fixtures write one marker file per run when MARK_DIR is set).
 */
export function fixtureProject(name = 'basic') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-cli-'));
  const stateDir = path.join(dir, 'state');
  const marks = path.join(dir, 'marks');
  fs.mkdirSync(marks);
  const cli = (args: string[], env: Record<string, string> = {}, extra: CliOptions = {}) =>
    runCli(['--config', fixture(name), ...args], { ...extra, env: { GCP_TASKS_STATE_DIR: stateDir, MARK_DIR: marks, ...env } });
  const ran = () => fs.readdirSync(marks).sort();
  return { dir, stateDir, cli, ran, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
