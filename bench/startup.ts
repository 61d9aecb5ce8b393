// Start-up benchmark: what `pnpm task` costs when there is nothing to do. Against a standalone-style sandbox
// (found through its sandbox.json) that already holds a deployed project: --version, --help, --list, a
// --dry-run and a fully cached deploy:all, each the median of several runs (wall and CPU seconds, since
// the machine may be shared), with a breakdown: process start (node alone), CLI modules (the compiled program's
// check included), config load, cache check (the runner's own time), the rest (sandbox connect, env, render). Then a DAG of sleeping tasks
// through the CLI: the runner's wall against the critical path of the sleeps, and the first task's
// overhead over its own sleep. Run alone: node_modules/.bin/tsx bench/startup.ts
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchRow, BenchSection } from './run.js';
import { cliCommand, repoRoot, runCli } from '../test/helpers/cli.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';
import { copySampleApp } from '../test/tasks/deploy/app.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS) || 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Timing {
  wall: number;
  cpu: number;
  stdout: string;
}

/**
 * One process under /usr/bin/time: wall from here, user+system CPU from time(1). Spawned without blocking:
 * the sandbox answers from this process's event loop (a blocked loop fails the CLI's health check after 2 s,
 * and the CLI then starts a sandbox of its own).
 */
function once(argv: readonly string[], env: Record<string, string>, cwd = repoRoot): Promise<Timing> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', ...argv], { cwd, env: { ...process.env, CI: '1', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} failed (${code}): ${stderr.slice(-2000)}`));
      const [user, sys] = stderr.trim().split('\n').pop()!.split(' ').map(Number);
      resolve({ wall, cpu: user! + sys!, stdout });
    });
  });
}

async function measure(argv: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<Timing & { all: Timing[] }> {
  await once(argv, env, cwd); // warm the compiled program and the disk cache
  const all: Timing[] = [];
  for (let i = 0; i < RUNS; i++) all.push(await once(argv, env, cwd));
  return { wall: median(all.map((t) => t.wall)), cpu: median(all.map((t) => t.cpu)), stdout: all.at(-1)!.stdout, all };
}

const task = (...args: string[]) => [...cliCommand, ...args];

export function sleepingDag(dir: string): { config: string; critical: number; first: number } {
  // 8 layers × 6 tasks, 60–140 ms each; every task of a layer depends on two of the previous one.
  const sleeps: number[] = [];
  const lines = [`import { defineConfig, defineTask } from ${JSON.stringify(path.join(repoRoot, 'lib', 'index.js'))};`, 'const sleep = (ms) => async () => { await new Promise((r) => setTimeout(r, ms)); };', 'export default defineConfig({ concurrency: 64, tasks: ['];
  const finish: number[] = [];
  for (let layer = 0; layer < 8; layer++) {
    for (let k = 0; k < 6; k++) {
      const i = sleeps.length;
      sleeps[i] = 60 + ((i * 37) % 81);
      const deps = layer === 0 ? [] : [(layer - 1) * 6 + k, (layer - 1) * 6 + ((k + 1) % 6)];
      finish[i] = Math.max(0, ...deps.map((d) => finish[d]!)) + sleeps[i]!;
      lines.push(`  defineTask({ name: 't${i}', description: '', always: true, deps: ${JSON.stringify(deps.map((d) => `t${d}`))}, run: sleep(${sleeps[i]}) }),`);
    }
  }
  lines.push(`  { name: 'all', description: '', always: true, deps: ${JSON.stringify(sleeps.map((_, i) => `t${i}`))}, run: async () => {} },`, ']});');
  const config = path.join(dir, 'tasks.config.ts');
  fs.writeFileSync(config, lines.join('\n') + '\n');
  return { config, critical: Math.max(...finish), first: sleeps[0]! };
}

export const startupBench: BenchSection = {
  name: 'startup',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [{ metric: `start-up figures: median of ${RUNS} runs each (CPU = user + system seconds of the process)`, value: RUNS, unit: 'runs' }];
    const sb = await startTestSandbox({ latencyScale: 0 });
    const app = copySampleApp();
    const env = { GCP_TASKS_SANDBOX_DIR: sb.dir, APP_ROOT: app.root };
    try {
      const cold = await runCli(['deploy:all', '--sandbox', '--json'], { env, timeoutMs: 1_800_000 });
      if (cold.code !== 0) throw new Error(`deploy:all failed (${cold.code}): ${cold.stderr.slice(-3000)}`);

      const bare = await measure([process.execPath, '-e', '0']);
      const version = await measure(task('--version'));
      const help = await measure(task('--help'));
      const list = await measure(task('--list'), env);
      const dry = await measure(task('deploy:all', '--sandbox', '--dry-run'), env);
      const cached = await measure(task('deploy:all', '--sandbox', '--json'), env);
      const summary = JSON.parse(cached.stdout) as { wallMs: number; gcloud: { calls: number }; tasks: { name: string; status: string }[] };
      const notCached = summary.tasks.filter((t) => t.status !== 'cached').map((t) => t.name);
      const viaPnpm = await measure(['pnpm', '--silent', 'task', 'deploy:all', '--sandbox'], env);
      rows.push(
        { metric: 'cached deploy:all --sandbox: wall, `pnpm task`', value: viaPnpm.wall, unit: 's', target: 0.35 },
        { metric: 'cached deploy:all --sandbox: wall, node entry (what `pnpm task` runs)', value: cached.wall, unit: 's', target: 0.35 },
        { metric: 'cached deploy:all --sandbox: CPU, node entry', value: cached.cpu, unit: 's' },
        { metric: 'cached deploy:all: gcloud calls', value: summary.gcloud.calls, unit: 'calls', target: 0 },
        { metric: `cached deploy:all: tasks not cached${notCached.length ? ` (${notCached.join(', ')})` : ''}`, value: notCached.length, unit: 'tasks', target: 0 },
        { metric: '  breakdown: process start (node -e 0)', value: bare.wall, unit: 's' },
        { metric: '  breakdown: CLI modules (--version − the above)', value: version.wall - bare.wall, unit: 's' },
        { metric: '  breakdown: config load (--list − --version)', value: list.wall - version.wall, unit: 's' },
        { metric: '  breakdown: cache check (the runner\'s wall)', value: summary.wallMs / 1000, unit: 's' },
        { metric: '  breakdown: the rest: sandbox connect, env, lock, render (cached − --list − runner)', value: cached.wall - list.wall - summary.wallMs / 1000, unit: 's' },
        { metric: '--help: wall', value: help.wall, unit: 's' },
        { metric: '--list: wall', value: list.wall, unit: 's' },
        { metric: '--list: CPU', value: list.cpu, unit: 's' },
        { metric: 'deploy:all --sandbox --dry-run (cached graph): wall', value: dry.wall, unit: 's' },
      );
    } finally {
      app.cleanup();
      await sb.stop();
    }

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-bench-startup-'));
    try {
      const dag = sleepingDag(dir);
      const runs: { wallMs: number; tasks: { name: string; durationMs?: number; startedAtMs?: number }[] }[] = [];
      for (let i = 0; i < 3; i++) runs.push(JSON.parse((await once(task('all', '--json'), { GCP_TASKS_STATE_DIR: path.join(dir, '.task-state') }, dir)).stdout));
      const best = runs.reduce((a, b) => (a.wallMs <= b.wallMs ? a : b));
      const first = best.tasks.find((t) => t.name === 't0');
      const firstMs = first?.durationMs ?? NaN;
      rows.push(
        { metric: `sleeping DAG through the CLI (48 tasks, critical path ${dag.critical} ms): wall / critical path`, value: best.wallMs / dag.critical, unit: '×', target: 1.02 },
        { metric: `sleeping DAG: first task's time over its ${dag.first} ms sleep`, value: firstMs - dag.first, unit: 'ms' },
        { metric: 'sleeping DAG: first task started after the run began', value: first?.startedAtMs ?? NaN, unit: 'ms' },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await startupBench.run()) console.log(row.metric, row.value.toFixed(3), row.unit, row.target ?? '');
}
