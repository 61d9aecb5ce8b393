// A sandbox for the ops and cleanup tests: started here (announced through sandbox.json so the CLI
// subprocesses use it), the CLI run as a subprocess the way a user runs it (pipe or pseudo-terminal),
// and the real gcloud pointed at the sandbox to create or read resources behind the tool's back.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, writeSandboxInfo, type SandboxHandle } from '../../lib/sandbox/index.js';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';

export const hasGcloud = (() => {
  try {
    execFileSync('which', ['gcloud'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Call at the top of a test file: prints the loud skip line and returns false when gcloud is absent. */
export function requireGcloud(): boolean {
  if (!hasGcloud) console.log('SKIPPED: gcloud not installed');
  return hasGcloud;
}

export interface GcloudResult { code: number; stdout: string; stderr: string }

export interface OpsSandbox {
  dir: string;
  handle: SandboxHandle;
  project: string;
  region: string;
  /** `pnpm task <args> --sandbox` with stdin a pipe (not a terminal). */
  cli(args: string[], opts?: { stdin?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  /** The same in a pseudo-terminal; each step waits for its regex in the output, then types its answer. */
  tty(args: string[], steps: [string, string][], opts?: { timeoutMs?: number }): Promise<CliResult & { answered: number }>;
  /** The task's outputs from `--json` (the CLI's stdout). */
  outputs<T>(result: CliResult, task: string): T;
  /** Real gcloud against the sandbox (its --project is the sandbox's). */
  gcloud(args: string[], opts?: { stdin?: string }): Promise<GcloudResult>;
  gcloudJson<T = any>(args: string[]): Promise<T>;
  /** Replaces the sandbox's fault configuration. */
  faults(config: object): Promise<void>;
  stop(): Promise<void>;
}

export async function startOpsSandbox(): Promise<OpsSandbox> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-ops-'));
  const handle = await startSandbox({ stateDir: dir, latencyScale: 0 });
  writeSandboxInfo(handle);
  const env = { GCP_TASKS_SANDBOX_DIR: dir };
  const gcloud = (args: string[], opts: { stdin?: string } = {}) =>
    new Promise<GcloudResult>((resolve) => {
      const child = execFile('gcloud', [...args, `--project=${handle.project}`, '--quiet'], { env: { ...process.env, ...handle.gcloudEnv }, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(opts.stdin ?? '');
    });
  return {
    dir,
    handle,
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
        execFile('python3', [path.join(repoRoot, 'test', 'ops', 'pty-driver.py'), JSON.stringify(spec)], { maxBuffer: 64 << 20 }, (error, stdout) => {
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
    gcloud,
    async gcloudJson<T>(args: string[]) {
      const r = await gcloud([...args, '--format=json']);
      if (r.code !== 0) throw new Error(`gcloud ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout || 'null') as T;
    },
    async faults(config) {
      const res = await fetch(`${handle.url}/__sandbox/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
      if (!res.ok) throw new Error(`setting faults failed: ${res.status} ${await res.text()}`);
    },
    async stop() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
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
