// A fully cached deploy:all with the records in the local state folder vs in a state bucket (the sandbox's
// Cloud Storage), on a deployed project (the post-deploy snapshot): the runner's wall time, the whole CLI
// process, gcloud calls and REST requests. The bucket run starts from an empty state folder, as a CI
// runner or a teammate's clone does.
// Run alone: node_modules/.bin/tsx bench/state.ts
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchRow, BenchSection } from './run.js';
import { runCli, type CliResult } from '../test/helpers/cli.js';
import { cleanCloudEnv } from '../test/helpers/snapshot.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';

interface Summary {
  wallMs: number;
  gcloud: { calls: number };
  rest?: { requests: number };
  tasks: { name: string; status: string }[];
}

async function timed(args: string[], env: Record<string, string>): Promise<{ s: Summary; ms: number }> {
  const started = performance.now();
  const r: CliResult = await runCli(['--sandbox', ...args], { env: cleanCloudEnv(env), timeoutMs: 600_000 });
  const ms = performance.now() - started;
  if (r.code !== 0) throw new Error(`pnpm task ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  return { s: args.includes('--json') ? (JSON.parse(r.stdout) as Summary) : { wallMs: 0, gcloud: { calls: 0 }, tasks: [] }, ms };
}

function rows(label: string, { s, ms }: { s: Summary; ms: number }): BenchRow[] {
  const notCached = s.tasks.filter((t) => t.status !== 'cached').map((t) => t.name);
  return [
    { metric: `cached deploy:all, ${label}: runner wall`, value: s.wallMs / 1000, unit: 's', target: 1 },
    { metric: `cached deploy:all, ${label}: whole CLI process`, value: ms / 1000, unit: 's' },
    { metric: `cached deploy:all, ${label}: gcloud calls`, value: s.gcloud.calls, unit: 'calls' },
    { metric: `cached deploy:all, ${label}: REST requests`, value: s.rest?.requests ?? 0, unit: 'requests' },
    { metric: `cached deploy:all, ${label}: tasks not cached${notCached.length ? ` (${notCached.join(', ')})` : ''}`, value: notCached.length, unit: 'tasks', target: 0 },
  ];
}

export const stateBench: BenchSection = {
  name: 'state',
  async run(): Promise<BenchRow[]> {
    const sb = await startTestSandbox({ snapshot: 'deploy' });
    const clone = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-bench-clone-'));
    const local = { GCP_TASKS_SANDBOX_DIR: sb.dir };
    const shared = { ...local, GCP_TASKS_STATE: 'gs://bench-task-state/gcp-tasks' };
    try {
      // The snapshot copy moved the services' URLs to a new port: deploy:all records them once, unmeasured.
      await timed(['deploy:all'], local);
      const out = rows('local state', await timed(['deploy:all', '--json'], local));
      await timed(['state:init'], shared);
      await timed(['state:migrate'], shared);
      out.push(...rows('bucket state, empty clone', await timed(['deploy:all', '--json'], { ...shared, GCP_TASKS_STATE_DIR: clone })));
      return out;
    } finally {
      fs.rmSync(clone, { recursive: true, force: true });
      await sb.stop();
    }
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await stateBench.run()) console.log(row.metric, row.value.toFixed(2), row.unit);
}
