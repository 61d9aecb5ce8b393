// The ops and cleanup tests' view of a test sandbox (test/helpers/sandbox.ts): the CLI run as a subprocess
// the way a user runs it (pipe or pseudo-terminal), its --json outputs, and the real gcloud pointed at the
// sandbox to create or read resources behind the tool's back.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import type { FaultConfig } from '../../../lib/sandbox/faults.js';
import { repoRoot, runCli, type CliResult } from '../../helpers/cli.js';
import { startTestSandbox, type GcloudResult, type TestSandbox } from '../../helpers/sandbox.js';
import type { SnapshotKind } from '../../helpers/snapshot.js';

export interface OpsSandbox {
  dir: string;
  sandbox: TestSandbox;
  project: string;
  region: string;
  /** `pnpm task <args> --sandbox` with stdin a pipe (not a terminal). */
  cli(args: string[], opts?: { stdin?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  /** The same in a pseudo-terminal; each step waits for its regex in the output, then types its answer. */
  tty(args: string[], steps: [string, string][], opts?: { timeoutMs?: number }): Promise<CliResult & { answered: number }>;
  /** The task's outputs from `--json` (the CLI's stdout). */
  outputs<T>(result: CliResult, task: string): T;
  /** Real gcloud against the sandbox. */
  gcloud(args: string[], opts?: { stdin?: string }): Promise<GcloudResult>;
  gcloudJson<T = any>(args: string[]): Promise<T>;
  /** Replaces the sandbox's fault configuration. */
  faults(config: FaultConfig): Promise<void>;
  stop(): Promise<void>;
}

/** A sandbox of an empty project, or of a copy of a set-up (or deployed) one. */
export async function startOpsSandbox(opts: { snapshot?: SnapshotKind } = {}): Promise<OpsSandbox> {
  const sandbox = await startTestSandbox(opts);
  const { dir, handle } = sandbox;
  const env = { GCP_TASKS_SANDBOX_DIR: dir };
  return {
    dir,
    sandbox,
    project: handle.project,
    region: handle.region,
    cli: (args, opts = {}) => runCli(withSandbox(args), { env: { ...env, ...opts.env }, stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 110_000 }),
    tty: (args, steps, opts = {}) =>
      new Promise((resolve, reject) => {
        const spec = {
          cmd: [path.join(repoRoot, 'node_modules', '.bin', 'tsx'), path.join(repoRoot, 'lib', 'bin', 'task.ts'), ...withSandbox(args)],
          env: { ...env, CI: '1', NO_COLOR: '1' },
          cwd: repoRoot,
          steps,
          timeout: (opts.timeoutMs ?? 110_000) / 1000,
        };
        execFile('python3', [path.join(repoRoot, 'test', 'tasks', 'operate', 'pty-driver.py'), JSON.stringify(spec)], { maxBuffer: 64 << 20 }, (error, stdout) => {
          if (error && (error as { code?: unknown }).code === undefined) return reject(error);
          const answered = Number(/@@steps-answered=(\d+)/.exec(stdout)?.[1] ?? 0);
          resolve({ code: error ? Number((error as { code?: number }).code) : 0, stdout: stdout.replace(/\r/g, ''), stderr: '', answered });
        });
      }),
    outputs<T>(result: CliResult, task: string): T {
      let summary: { tasks: { name: string; outputs?: unknown }[] };
      try {
        summary = JSON.parse(result.stdout);
      } catch {
        throw new Error(`stdout is not the --json summary:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
      const entry = summary.tasks.find((t) => t.name === task);
      if (!entry || entry.outputs === undefined) throw new Error(`no outputs for ${task} in:\n${result.stdout}\nstderr:\n${result.stderr}`);
      return entry.outputs as T;
    },
    gcloud: (args, opts = {}) => sandbox.gcloud([...args, '--quiet'], opts),
    async gcloudJson<T>(args: string[]) {
      const r = await sandbox.gcloud([...args, '--format=json', '--quiet']);
      if (r.code !== 0) throw new Error(`gcloud ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout || 'null') as T;
    },
    faults: (config) => sandbox.setFaults(config),
    // A gcloud call killed at its deadline may still be writing its log into the sandbox folder for a
    // moment: retry the removal until it succeeds (bounded), instead of failing the whole file.
    stop: async () => {
      const until = Date.now() + 15_000;
      for (;;) {
        try {
          return await sandbox.stop();
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || Date.now() > until) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
  };
}

/** `--sandbox` goes before `--` (what follows it are task arguments). */
function withSandbox(args: string[]): string[] {
  const at = args.indexOf('--');
  return at < 0 ? [...args, '--sandbox'] : [...args.slice(0, at), '--sandbox', ...args.slice(at)];
}

/** uvu swallows errors thrown in hooks: this prints them. */
export function loud(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      console.error('hook failed:', e);
      throw e;
    }
  };
}

/** Fails with both streams shown, so a failing test says why. */
export function expectCode(result: CliResult, code: number, what: string): void {
  if (result.code !== code) throw new Error(`${what}: exit ${result.code}, expected ${code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}
