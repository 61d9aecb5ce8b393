// Benchmark of `status` against the sandbox: the task as users run it (all queries at once, each with its
// deadline) next to the very same gcloud commands run one after another. The commands are read from the
// status task's log, so both sides make exactly the same queries.
// Run alone: node_modules/.bin/tsx bench/status.ts   (bench/run.ts may import benchStatus).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../test/helpers/cli.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';

export interface StatusBench {
  /** Wall time of `pnpm task status --sandbox` (process start included). */
  statusMs: number;
  /** Time the status task itself reported (its queries, concurrently). */
  statusQueriesMs: number;
  /** The same gcloud commands, one after another. */
  sequentialMs: number;
  queries: number;
}

export async function benchStatus(): Promise<StatusBench> {
  const sb = await startTestSandbox();
  const env = { GCP_TASKS_SANDBOX_DIR: sb.dir };
  try {
    const setup = await runCli(['setup', '--sandbox'], { env, timeoutMs: 300_000 });
    if (setup.code !== 0) throw new Error(`setup failed:\n${setup.stderr}`);
    const started = performance.now();
    const status = await runCli(['status', '--sandbox', '--json'], { env, timeoutMs: 120_000 });
    const statusMs = performance.now() - started;
    if (status.code !== 0) throw new Error(`status failed:\n${status.stderr}`);
    const report = JSON.parse(status.stdout).tasks.find((t: { name: string }) => t.name === 'status').outputs as { elapsedMs: number };

    const log = fs.readFileSync(path.join(sb.dir, 'task-state', 'logs', 'status.log'), 'utf8');
    const commands = log
      .split('\n')
      .map((l) => /\$ gcloud (.*)$/.exec(l)?.[1])
      .filter((c): c is string => !!c)
      .map((c) => c.split(' ').map((a) => a.replace(/^'(.*)'$/, '$1')));
    const seqStart = performance.now();
    // One after another, each awaited — not spawnSync: the sandbox serves from this very event loop.
    for (const args of commands) await sb.gcloud(args);
    const sequentialMs = performance.now() - seqStart;
    return { statusMs, statusQueriesMs: report.elapsedMs, sequentialMs, queries: commands.length };
  } finally {
    await sb.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchStatus();
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`status (sandbox, after setup): ${s(r.statusMs)} wall, ${s(r.statusQueriesMs)} for its ${r.queries} queries at once; the same ${r.queries} queries one after another: ${s(r.sequentialMs)}`);
}
