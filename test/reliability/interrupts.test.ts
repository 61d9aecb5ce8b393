// Interrupts: SIGINT (to the whole process group, as Ctrl-C in a terminal) and kill -9 (to the CLI alone)
// at seeded random moments of a cold deploy:all, 20 trials. After each: no cache record claims work
// that is not done, .env.production is whole, no process of the run remains, and the next run completes.
import { spawn } from 'node:child_process';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { cliCommand } from '../helpers/cli.js';
import { processesWithEnv } from '../helpers/processes.js';
import { seededRandom } from '../../lib/sandbox/random.js';
import { DEPLOY_ALL_TASKS, envFileProblems, falseRecords, sandboxProject, waitFor } from './helpers.js';

const TRIALS = Number(process.env.INTERRUPT_TRIALS) || 20;
const test = gcloudTests('interrupt trials');
const random = seededRandom(20261126);

for (let trial = 1; trial <= TRIALS; trial++) {
  const signal = trial % 2 ? 'SIGINT' : 'SIGKILL';
  // A cold deploy:all takes ~30–90 s here; interrupt anywhere in its first 45 s.
  const afterMs = Math.round(1500 + random() * 43_500);
  test(`trial ${trial}: ${signal} after ${(afterMs / 1000).toFixed(1)} s`, async () => {
    const p = await sandboxProject({ env: 'production', seed: trial });
    try {
      const child = spawn(cliCommand[0], [...cliCommand.slice(1), 'deploy:all', '--sandbox', '--env', 'production'], {
        env: { ...process.env, CI: '1', GCP_TASKS_SANDBOX_DIR: p.sandbox.dir },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true, // its own process group, as a shell job: Ctrl-C reaches the whole group
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
      let interrupted = false; // the signal reached a run still going
      const timer = setTimeout(() => {
        interrupted = child.exitCode === null && child.signalCode === null;
        if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
        else process.kill(child.pid!, 'SIGKILL');
      }, afterMs);
      const code = await exited;
      clearTimeout(timer);
      assert.ok(interrupted, `the run ended (exit ${code}) before the ${signal} at ${afterMs} ms: nothing was interrupted`);
      if (signal === 'SIGINT') assert.ok(code === 130 || code === 0, `exit ${code} after SIGINT\n${stderr.slice(-2000)}`);
      // Nothing of the run stays behind: the CLI and every gcloud it started carry the sandbox folder in
      // their environment (after kill -9, gcloud calls in flight finish on their own, within a bound).
      await waitFor('the run\'s processes are gone', () => processesWithEnv(p.sandbox.dir).length === 0, 90_000);

      assert.equal(await falseRecords(p), [], 'a record claims unfinished work');
      assert.equal(envFileProblems(p.envFilePath()), [], '.env.production is damaged');

      const next = await p.cli(['deploy:all', '--json']);
      assert.is(next.code, 0, next.stderr.slice(-3000));
      assert.equal([...p.records().keys()].sort(), [...DEPLOY_ALL_TASKS].sort());
      assert.equal(await falseRecords(p), []);
      assert.equal(envFileProblems(p.envFilePath()), []);
      const recorded = (JSON.parse(next.stdout).tasks as { status: string }[]).filter((t) => t.status === 'cached').length;
      console.log(`  trial ${trial}: ${signal} at ${(afterMs / 1000).toFixed(1)} s → exit ${code}; next run: ${recorded} cached, ${DEPLOY_ALL_TASKS.length - recorded} ran`);
    } finally {
      await p.stop();
    }
  });
}

test.run();
