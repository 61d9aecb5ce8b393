// Benchmark of `setup` against the sandbox: a fresh run, a repeated run served from the cache, and a
// repeated run that re-checks everything live (--force-all): gcloud calls and REST reads (from the --json
// summary), mutating API requests (from the sandbox's request log) and wall time. The old bash setup made about
// 61 sequential CLI calls on a no-op run (SPEC); that is the target of the live re-check.
// Run alone: node_modules/.bin/tsx bench/setup.ts
import type { BenchRow, BenchSection } from './run.js';
import { runCli } from '../test/helpers/cli.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';

const READ_POSTS = /:(getIamPolicy|testIamPermissions)$/;

export const setupBench: BenchSection = {
  name: 'setup',
  async run(): Promise<BenchRow[]> {
    const sb = await startTestSandbox();
    const env = { GCP_TASKS_SANDBOX_DIR: sb.dir };
    const measure = async (label: string, args: string[]) => {
      await sb.fetch('/__sandbox/requests', { method: 'DELETE' });
      const started = performance.now();
      const r = await runCli(['--sandbox', 'setup', '--json', ...args], { env, timeoutMs: 600_000 });
      const ms = performance.now() - started;
      if (r.code !== 0) throw new Error(`setup (${label}) failed:\n${r.stderr}`);
      const summary = JSON.parse(r.stdout) as { gcloud: { calls: number }; rest: { requests: number } };
      const calls = summary.gcloud.calls;
      const reads = summary.rest.requests;
      const mutating = (await sb.requests()).filter((q) => q.method !== 'GET' && !READ_POSTS.test(q.path)).length;
      return { calls, reads, mutating, ms };
    };
    try {
      const fresh = await measure('fresh', []);
      const cached = await measure('repeated', []);
      const live = await measure('repeated, --force-all', ['--force-all']);
      return [
        { metric: 'fresh setup: gcloud calls', value: fresh.calls, unit: 'calls' },
        { metric: 'fresh setup: REST reads', value: fresh.reads, unit: 'requests' },
        { metric: 'fresh setup: wall', value: fresh.ms / 1000, unit: 's' },
        { metric: 'repeated setup (cache): gcloud calls', value: cached.calls, unit: 'calls' },
        { metric: 'repeated setup (cache): wall', value: cached.ms / 1000, unit: 's' },
        { metric: 'repeated setup (--force-all): gcloud calls', value: live.calls, unit: 'calls', target: 61 },
        { metric: 'repeated setup (--force-all): REST reads', value: live.reads, unit: 'requests' },
        { metric: 'repeated setup (--force-all): mutating requests', value: live.mutating, unit: 'requests' },
        { metric: 'repeated setup (--force-all): wall', value: live.ms / 1000, unit: 's' },
      ];
    } finally {
      await sb.stop();
    }
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await setupBench.run()) console.log(`${row.metric}: ${row.value.toFixed(row.unit === 's' ? 1 : 0)} ${row.unit}`);
}
