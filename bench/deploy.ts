// Benchmark of the whole job against the sandbox with its latencies in realistic proportions (Cloud SQL
// create ≫ build > deploy > bucket create; BENCH_LATENCY_SCALE, default 0.1 of Google's typical durations):
// a cold setup and a cold deploy:all (wall, critical path, sum of the steps = what a sequential script
// takes, gcloud calls), a fully cached deploy:all, and a deploy:all after changing one service.
// Run alone: node_modules/.bin/tsx bench/deploy.ts
import type { BenchRow, BenchSection } from './run.js';
import { runCli, type CliResult } from '../test/helpers/cli.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';
import { copySampleApp } from '../test/tasks/deploy/app.js';

interface Summary {
  wallMs: number;
  criticalPath: { ms: number; tasks: string[] };
  gcloud: { calls: number; retries: number };
  tasks: { name: string; status: string; durationMs?: number }[];
}

const scale = Number(process.env.BENCH_LATENCY_SCALE) || 0.1;

function parse(label: string, r: CliResult): Summary {
  if (r.code !== 0) throw new Error(`${label} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout) as Summary;
}

const sumOfSteps = (s: Summary) => s.tasks.filter((t) => t.status === 'ran').reduce((sum, t) => sum + (t.durationMs ?? 0), 0);

/** A cold run's rows: wall, critical path, sum of steps, and the two ratios with their targets. */
function coldRows(what: string, s: Summary, cliMs: number): BenchRow[] {
  const steps = sumOfSteps(s);
  return [
    { metric: `cold ${what}: wall (runner)`, value: s.wallMs / 1000, unit: 's' },
    { metric: `cold ${what}: wall (whole CLI process)`, value: cliMs / 1000, unit: 's' },
    { metric: `cold ${what}: critical path`, value: s.criticalPath.ms / 1000, unit: 's' },
    { metric: `cold ${what}: sum of steps (a sequential script)`, value: steps / 1000, unit: 's' },
    { metric: `cold ${what}: wall / critical path`, value: s.wallMs / s.criticalPath.ms, unit: '×', target: 1.05 },
    { metric: `cold ${what}: sum of steps / wall (speed-up)`, value: steps / s.wallMs, unit: '×', target: 2, lowerIsBetter: false },
    { metric: `cold ${what}: gcloud calls`, value: s.gcloud.calls, unit: 'calls' },
  ];
}

async function timed(args: string[], env: Record<string, string>): Promise<{ r: CliResult; ms: number }> {
  const started = performance.now();
  const r = await runCli(args, { env, timeoutMs: 1_800_000 });
  return { r, ms: performance.now() - started };
}

export const deployBench: BenchSection = {
  name: 'deploy',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [{ metric: 'sandbox latency scale (of typical Google durations)', value: scale, unit: '×' }];

    // A cold setup alone, on its own fresh project.
    const first = await startTestSandbox({ latencyScale: scale });
    try {
      const setup = await timed(['setup', '--sandbox', '--json'], { GCP_TASKS_SANDBOX_DIR: first.dir });
      rows.push(...coldRows('setup', parse('setup', setup.r), setup.ms));
    } finally {
      await first.stop();
    }

    // A cold deploy:all (setup included) on another fresh project, then the cached and one-change runs.
    const sb = await startTestSandbox({ latencyScale: scale });
    const app = copySampleApp();
    const env = { GCP_TASKS_SANDBOX_DIR: sb.dir, APP_ROOT: app.root };
    try {
      const cold = await timed(['deploy:all', '--sandbox', '--json'], env);
      rows.push(...coldRows('deploy:all', parse('cold deploy:all', cold.r), cold.ms));

      const cached = await timed(['deploy:all', '--sandbox', '--json'], env);
      const c = parse('cached deploy:all', cached.r);
      const notCached = c.tasks.filter((t) => t.status !== 'cached').map((t) => t.name);
      rows.push(
        { metric: 'cached deploy:all: tool\'s own time (runner)', value: c.wallMs / 1000, unit: 's', target: 0.5 },
        { metric: 'cached deploy:all: whole CLI process', value: cached.ms / 1000, unit: 's' },
        { metric: 'cached deploy:all: gcloud calls', value: c.gcloud.calls, unit: 'calls', target: 0 },
        { metric: `cached deploy:all: tasks not cached${notCached.length ? ` (${notCached.join(', ')})` : ''}`, value: notCached.length, unit: 'tasks', target: 0 },
      );

      app.append('services/face-processing-service/src/index.js', '\n// bench: one service changed\n');
      const changed = await timed(['deploy:all', '--sandbox', '--json'], env);
      const ch = parse('deploy:all after one change', changed.r);
      const ran = ch.tasks.filter((t) => t.status === 'ran').map((t) => t.name);
      rows.push(
        { metric: `one service changed: tasks that ran (${ran.join(', ')})`, value: ran.length, unit: 'tasks' },
        { metric: 'one service changed: wall', value: ch.wallMs / 1000, unit: 's' },
        { metric: 'one service changed: gcloud calls', value: ch.gcloud.calls, unit: 'calls' },
      );
    } finally {
      app.cleanup();
      await sb.stop();
    }
    return rows;
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await deployBench.run()) console.log(row.metric, row.value.toFixed(2), row.unit);
}
