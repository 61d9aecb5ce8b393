// Engine benchmark: runner overhead per task (1,000 no-op tasks), wall time vs critical path (a DAG of
// sleeping tasks), and a fully cached 1,000-task rerun (in-process and through the real CLI).
// Prints ratios against the targets; it never fails on timings (the machine may be busy).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskDef } from '../lib/engine/types.js';
import { closure, createGraph, topoOrder } from '../lib/engine/graph.js';
import { Fingerprinter, loadSalt, recordsDir, StateStore } from '../lib/engine/cache.js';
import { createRuntime } from '../lib/engine/context.js';
import { createPrompt } from '../lib/engine/prompt.js';
import { runPlan } from '../lib/engine/runner.js';
import type { BenchRow, BenchSection } from './run.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same DAG. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` tasks; each depends on up to 3 earlier ones. */
function randomDag(count: number, run: (i: number) => TaskDef<any>['run']): TaskDef<any>[] {
  const rnd = random(42);
  return Array.from({ length: count }, (_, i) => {
    const deps = new Set<string>();
    for (let k = 0; k < 3 && i > 0; k++) if (rnd() < 0.7) deps.add(`t${Math.floor(rnd() * i)}`);
    return { name: `t${i}`, description: `task ${i}`, deps: [...deps], run: run(i) };
  });
}

async function runInProcess(tasks: TaskDef<any>[], stateDir: string, concurrency: number) {
  const graph = createGraph(tasks);
  const order = topoOrder(graph, closure(graph, [...graph.tasks.keys()]));
  const started = performance.now();
  const summary = await runPlan({
    graph,
    order,
    concurrency,
    store: new StateStore(recordsDir(stateDir, 'bench', 'development')),
    fingerprinter: new Fingerprinter({ salt: loadSalt(stateDir), root: stateDir }),
    runtime: createRuntime({
      env: 'development',
      vars: {},
      paths: { root: stateDir, envDir: stateDir, stateDir },
      dryRun: false,
      verbose: false,
      prompt: createPrompt({ yes: true }),
      platform: { target: { project: 'bench' }, fields: () => ({}), taskFields: () => ({}) },
      argsFor: () => ({}),
      commandFor: (rest) => `pnpm task ${rest}`,
    }),
    stateDir,
  });
  const wall = performance.now() - started;
  if (summary.failed) throw new Error('benchmark tasks failed');
  return { wall, summary };
}

/** A generated config with `count` no-op tasks in the same DAG shape, for the end-to-end CLI timing. */
function writeNoopConfig(dir: string, count: number): string {
  const file = path.join(dir, 'tasks.config.ts');
  const rnd = random(42);
  const lines = [`import { defineConfig } from ${JSON.stringify(path.join(repo, 'lib', 'index.js'))};`, 'const run = async () => {};', 'export default defineConfig({ tasks: ['];
  for (let i = 0; i < count; i++) {
    const deps = new Set<string>();
    for (let k = 0; k < 3 && i > 0; k++) if (rnd() < 0.7) deps.add(`t${Math.floor(rnd() * i)}`);
    lines.push(`  { name: 't${i}', description: 'task ${i}', deps: ${JSON.stringify([...deps])}, run },`);
  }
  lines.push(`  { name: 'all', description: 'everything', deps: ${JSON.stringify(Array.from({ length: count }, (_, i) => `t${i}`))}, run },`, ']});');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function cliWall(config: string, stateDir: string, args: string[]): number {
  const started = performance.now();
  const r = spawnSync(path.join(repo, 'node_modules', '.bin', 'tsx'), [path.join(repo, 'lib', 'bin', 'task.ts'), '--config', config, ...args], {
    cwd: path.dirname(config),
    env: { ...process.env, CI: '1', GCP_TASKS_STATE_DIR: stateDir },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = performance.now() - started;
  if (r.status !== 0) throw new Error(`CLI failed (${r.status}): ${r.stderr.toString().slice(-2000)}`);
  return wall;
}

export const engineBench: BenchSection = {
  name: 'engine',
  async run(): Promise<BenchRow[]> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-bench-'));
    const rows: BenchRow[] = [];
    try {
      // Warm-up (zx import, JIT) on a small graph, so the 1,000-task figure is the runner's steady cost.
      await runInProcess(randomDag(50, () => async () => {}), path.join(tmp, 'warm'), 4);

      const noop = randomDag(1000, () => async () => {});
      const fresh = await runInProcess(noop, path.join(tmp, 'noop'), 4);
      const perTask = fresh.wall / noop.length;
      rows.push({ metric: 'overhead per task, 1,000 no-op tasks (-j 4, records fsync-ed)', value: perTask, unit: 'ms', target: 2, lowerIsBetter: true });

      const cached = await runInProcess(noop, path.join(tmp, 'noop'), 4);
      if (!cached.summary.results.every((r) => r.status === 'cached')) throw new Error('second run was not fully cached');
      rows.push({ metric: 'fully cached 1,000-task rerun, runner in-process', value: cached.wall, unit: 'ms', target: 1000, lowerIsBetter: true });

      const configDir = path.join(tmp, 'cli');
      fs.mkdirSync(configDir);
      const config = writeNoopConfig(configDir, 1000);
      const cliState = path.join(configDir, '.task-state');
      const firstCli = cliWall(config, cliState, ['all']);
      const cachedCli = Math.min(cliWall(config, cliState, ['all']), cliWall(config, cliState, ['all']));
      rows.push({ metric: 'fully cached 1,000-task rerun, `tsx lib/bin/task.ts` end to end', value: cachedCli, unit: 'ms', target: 1000, lowerIsBetter: true });
      rows.push({ metric: 'first 1,000-task run, CLI end to end (for reference)', value: firstCli, unit: 'ms' });
      rows.push({ metric: 'CLI startup: --version', value: cliWall(config, cliState, ['--version']), unit: 'ms' });
      rows.push({ metric: 'CLI startup: --list (1,000 tasks)', value: cliWall(config, cliState, ['--list']), unit: 'ms' });

      // Sleeping DAG: 12 layers × 15 tasks, 40–120 ms each, unlimited concurrency: the wall is bounded
      // below by the critical path of the declared sleeps; everything above it is engine overhead.
      const rnd = random(7);
      const sleeps: number[] = [];
      const layered: TaskDef<any>[] = [];
      for (let layer = 0; layer < 12; layer++) {
        for (let k = 0; k < 15; k++) {
          const i = layered.length;
          sleeps[i] = 40 + Math.floor(rnd() * 80);
          const deps = layer === 0 ? [] : [...new Set([0, 1, 2].map(() => `t${(layer - 1) * 15 + Math.floor(rnd() * 15)}`))];
          layered.push({ name: `t${i}`, description: '', deps, always: true, run: () => new Promise<void>((resolve) => setTimeout(resolve, sleeps[i])) });
        }
      }
      const finish = new Map<string, number>();
      for (const t of layered) finish.set(t.name, Math.max(0, ...(t.deps ?? []).map((d) => finish.get(d)!)) + sleeps[Number(t.name.slice(1))]!);
      const critical = Math.max(...finish.values());
      const slept = await runInProcess(layered, path.join(tmp, 'sleep'), layered.length);
      rows.push({ metric: `wall / critical path, sleeping DAG (${layered.length} tasks, critical path ${Math.round(critical)} ms)`, value: slept.wall / critical, unit: '×', target: 1.05, lowerIsBetter: true });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return rows;
  },
};
