// Benchmark of the read-only reports against the sandbox at latency 0: `status` of a set-up project through
// the CLI as users run it, its wall time and the CPU seconds of the CLI and every process it starts
// (measured by /usr/bin/time, which counts waited-for children: gcloud's Python included).
// Run alone: node_modules/.bin/tsx bench/rest.ts
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliCommand, repoRoot, runCli } from '../test/helpers/cli.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';
import type { BenchRow, BenchSection } from './run.js';

export interface TimedRun {
  code: number | null;
  wallS: number;
  cpuS: number;
  stderr: string;
}

/** One CLI run under /usr/bin/time: wall and user+system CPU of the process tree. */
export function timedCli(args: string[], env: Record<string, string>): Promise<TimedRun> {
  const timesFile = path.join(os.tmpdir(), `gt-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-o', timesFile, '-f', '%e %U %S', ...cliCommand, ...args], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const [wall, user, sys] = fs.readFileSync(timesFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      fs.rmSync(timesFile, { force: true });
      resolve({ code, wallS: wall!, cpuS: user! + sys!, stderr });
    });
  });
}

/** CPU seconds of `status` when each of its 14 queries was a gcloud process, measured on this machine, quiet. */
const GCLOUD_STATUS_CPU_S = 4.0;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchRestStatus(runs = 5): Promise<{ wallS: number; cpuS: number; runs: number; gcloudCalls: number; restRequests: number }> {
  const sb = await startTestSandbox({ latencyScale: 0 });
  const env = { GCP_TASKS_SANDBOX_DIR: sb.dir };
  try {
    const setup = await runCli(['setup', '--sandbox'], { env, timeoutMs: 300_000 });
    if (setup.code !== 0) throw new Error(`setup failed:\n${setup.stderr}`);
    const results: TimedRun[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timedCli(['status', '--sandbox'], env);
      if (r.code !== 0) throw new Error(`status failed:\n${r.stderr}`);
      if (/timed out|query failed/.test(r.stderr)) process.stderr.write(`status had a failed query:\n${r.stderr}\n`);
      results.push(r);
    }
    // What one status run starts: gcloud processes (the access token) and REST requests.
    const json = await runCli(['status', '--sandbox', '--json'], { env, timeoutMs: 120_000 });
    const summary = JSON.parse(json.stdout) as { gcloud: { calls: number }; rest: { requests: number } };
    return { wallS: median(results.map((r) => r.wallS)), cpuS: median(results.map((r) => r.cpuS)), runs, gcloudCalls: summary.gcloud.calls, restRequests: summary.rest.requests };
  } finally {
    await sb.stop();
  }
}

export const restBench: BenchSection = {
  name: 'rest',
  async run(): Promise<BenchRow[]> {
    const r = await benchRestStatus();
    return [
      { metric: `status (latency 0, set-up project): wall, median of ${r.runs}`, value: r.wallS, unit: 's', target: 1.0 },
      { metric: 'status: CPU seconds of the CLI and its children', value: r.cpuS, unit: 's' },
      { metric: `status: CPU, ${GCLOUD_STATUS_CPU_S} s of the status that ran 14 gcloud queries (measured quiet) over this one`, value: GCLOUD_STATUS_CPU_S / r.cpuS, unit: '×', target: 5, lowerIsBetter: false },
      { metric: `status: gcloud processes (the token comes from gcloud's own cache while fresh; ${r.restRequests} REST requests)`, value: r.gcloudCalls, unit: 'calls', target: 0 },
    ];
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchRestStatus();
  console.log(`status (latency 0, after setup): ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU (median of ${r.runs})`);
}
