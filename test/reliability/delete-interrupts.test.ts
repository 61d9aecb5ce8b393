// Interrupts of deletions: `cleanup --all` and `resource:delete` stopped by SIGINT (to the process group, as
// Ctrl-C), SIGTERM or kill -9 (to the CLI) while a bucket's DELETE is in flight — held by a sandbox `slow`
// rule, and reached once the request log shows the object listing `storage rm` sends just before it. After
// each trial: the DELETE did reach the sandbox (the interrupt landed mid-operation), no cache record claims
// a resource that does not exist, and `setup` restores exactly what is missing. SIGHUP is the engine's to
// handle (it does not yet) and is not tried here.
import { spawn } from 'node:child_process';
import * as assert from 'uvu/assert';
import { cliCommand } from '../helpers/cli.js';
import { gcloudTests } from '../helpers/skip.js';
import { processesWithEnv } from '../helpers/processes.js';
import { seededRandom } from '../../lib/sandbox/random.js';
import { falseRecords, sandboxProject, statusesOf, waitFor, type Project } from './helpers.js';

const TRIALS = Number(process.env.INTERRUPT_TRIALS) || 20;
const SLOW_MS = 6000;
const SETUP_TASKS = ['apis:enable', 'registry:create', 'buckets:create', 'iam:create', 'secrets:create', 'sql:create'];
const test = gcloudTests('deletion interrupt trials');
const random = seededRandom(20261201);
const signals = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;

let p: Project;
let buckets: string[] = [];

test.before(async () => {
  p = await sandboxProject({ env: 'development' });
  const setup = await p.cli(['setup', '--json']);
  assert.is(setup.code, 0, setup.stderr.slice(-3000));
  buckets = Object.values(p.records().get('buckets:create').buckets as Record<string, string>);
});
test.after(async () => {
  await p?.stop();
});

const requests = async () => (await p.sandbox.requests()) as { method: string; path: string; time: string }[];

for (let trial = 1; trial <= TRIALS; trial++) {
  const signal = signals[trial % signals.length];
  const op = trial % 2 ? 'cleanup' : 'resource:delete';
  const pick = random();
  const offsetMs = Math.round(random() * 1500);
  test(`trial ${trial}: ${op}, ${signal} ${offsetMs} ms into a bucket's DELETE`, async () => {
    const bucket = buckets[Math.floor(pick * buckets.length)];
    await p.sandbox.fetch('/__sandbox/requests', { method: 'DELETE' });
    await p.sandbox.setFaults({ slow: [{ method: 'DELETE', path: `/b/${bucket}`, ms: SLOW_MS }] });
    const args = op === 'cleanup' ? ['cleanup', '--yes', '--', '--all'] : ['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`];
    const child = spawn(cliCommand[0], [...cliCommand.slice(1), ...args, '--sandbox', '--env', p.env], {
      env: { ...process.env, CI: '1', GCP_TASKS_SANDBOX_DIR: p.sandbox.dir },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group, as a shell job: Ctrl-C reaches the whole group
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
    try {
      // `storage rm -r` ends with the bucket's managed folders listing, then sends the DELETE the slow rule holds.
      await waitFor(`the last listing before the DELETE of ${bucket}`, async () => (await requests()).some((r) => r.method === 'GET' && r.path.includes(`/b/${bucket}/managedFolders`)), 120_000)
        .catch(async (e) => {
          const seen = (await requests()).map((r) => `${r.method} ${r.path}`).join('\n');
          throw new Error(`${(e as Error).message}\nrequests:\n${seen}\nstderr:\n${stderr.slice(-3000)}`);
        });
      await new Promise((r) => setTimeout(r, offsetMs)); // the seeded moment inside the held DELETE
      const sentAt = Date.now();
      if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
      else process.kill(child.pid!, signal);
      const code = await exited;
      if (signal !== 'SIGKILL') assert.ok(code === 130 || code === 1, `exit ${code} after ${signal}\n${stderr.slice(-2000)}`);
      await waitFor('the run\'s processes are gone', () => processesWithEnv(p.sandbox.dir).length === 0, 90_000);
      // The interrupt landed mid-operation: the DELETE had been received and was answered after it.
      const deleted = (await requests()).find((r) => r.method === 'DELETE' && r.path.endsWith(`/b/${bucket}`));
      assert.ok(deleted, `the DELETE of ${bucket} never reached the sandbox\n${stderr.slice(-2000)}`);
      assert.ok(Date.parse(deleted!.time) >= sentAt - 50, 'the DELETE was still in flight when the signal was sent');
    } finally {
      await p.sandbox.setFaults({});
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }

    assert.equal(await falseRecords(p), [], 'a record claims a resource that does not exist');
    assert.not.ok(p.records().has('buckets:create'), 'the deleted bucket\'s record was dropped');

    const next = await p.cli(['setup', '--json']);
    assert.is(next.code, 0, next.stderr.slice(-3000));
    const statuses = statusesOf(next);
    assert.is(statuses['buckets:create'], 'ran', 'the missing bucket is recreated');
    if (op === 'resource:delete') {
      for (const t of SETUP_TASKS.filter((t) => t !== 'buckets:create')) assert.is(statuses[t], 'cached', `${t}: nothing else was missing`);
    }
    assert.equal(await falseRecords(p), []);
    for (const t of SETUP_TASKS) assert.ok(p.records().has(t), `${t} recorded again`);
    console.log(`  trial ${trial}: ${op} ${signal} → setup ran ${Object.entries(statuses).filter(([, s]) => s === 'ran').map(([t]) => t).join(', ')}`);
  });
}

test.run();
