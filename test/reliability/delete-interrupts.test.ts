// Interrupts of deletions: `cleanup --all` and `resource:delete` stopped by SIGINT (to the process group, as
// Ctrl-C), SIGTERM, SIGHUP (to the CLI, as a polite kill and a closed terminal) or kill -9 while a bucket's
// DELETE is in flight: held by a sandbox `slow` rule, and reached once the request log shows the object
// listing `storage rm` sends just before it. Each trial checks that the interrupt landed mid-operation (the
// sandbox received the DELETE before the signal and answered it after), the exit code of the signal, that
// no process of the run survives, that no cache record claims a resource that does not exist, and that
// `setup` then recreates what is missing (every task whose record was dropped runs again) and nothing else.
import { spawn } from 'node:child_process';
import * as assert from 'uvu/assert';
import { cliCommand } from '../helpers/cli.js';
import { gcloudTests } from '../helpers/skip.js';
import { processesWithEnv } from '../helpers/processes.js';
import { seededRandom } from '../../lib/sandbox/random.js';
import { falseRecords, sandboxProject, statusesOf, waitFor, type Project } from './helpers.js';

// A cleanup deletes the Cloud SQL instance and the next setup creates it again under the same name. Google
// reserves a deleted instance's name for a week (the sandbox too, by default); these trials are about
// records and processes, so the sandbox started here frees the name at once.
process.env.SANDBOX_SQL_NAME_RESERVED_SECONDS = '0';

const TRIALS = Number(process.env.INTERRUPT_TRIALS) || 20;
const SLOW_MS = 10_000;
const SETUP_TASKS = ['apis:enable', 'registry:create', 'buckets:create', 'iam:create', 'secrets:create', 'sql:create'];
const test = gcloudTests('deletion interrupt trials');
const random = seededRandom(20261201);
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGKILL'] as const;
/** The shell's convention, which the CLI follows for the signals it handles. */
const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 };

let p: Project;
let buckets: string[] = [];

test.before(async () => {
  p = await sandboxProject({ env: 'development', snapshot: 'setup' });
  buckets = Object.values(p.records().get('buckets:create').buckets as Record<string, string>);
  assert.equal(await falseRecords(p), [], 'the set-up project starts with true records');
});
test.after(async () => {
  await p?.stop();
});

const requests = async () => (await p.sandbox.requests()) as { method: string; path: string; time: string }[];

for (let trial = 1; trial <= TRIALS; trial++) {
  // Every signal meets both operations: four trials of one, then four of the other.
  const signal = signals[(trial - 1) % signals.length];
  const op = Math.floor((trial - 1) / signals.length) % 2 ? 'resource:delete' : 'cleanup';
  const pick = random();
  // gcloud sends the DELETE right after the listing, but with four gcloud processes on a loaded machine that
  // took over a second once: from 2.5 s on the DELETE is in flight (checked below, per trial).
  const offsetMs = 2500 + Math.round(random() * 2000);
  test(`trial ${trial}: ${op}, ${signal} ${offsetMs} ms after the last request before a bucket's DELETE`, async () => {
    const bucket = buckets[Math.floor(pick * buckets.length)];
    await p.sandbox.fetch('/__sandbox/requests', { method: 'DELETE' });
    await p.sandbox.setFaults({ slow: [{ method: 'DELETE', path: `/b/${bucket}`, ms: SLOW_MS }] });
    const args = op === 'cleanup' ? ['cleanup', '--yes', '--', '--all'] : ['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`];
    // The CLI's flags go before the task arguments (everything after `--` is the task's).
    const child = spawn(cliCommand[0], [...cliCommand.slice(1), '--sandbox', '--env', p.env, ...args], {
      env: { ...process.env, CI: '1', GCP_TASKS_SANDBOX_DIR: p.sandbox.dir },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group, as a shell job: Ctrl-C reaches the whole group
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    let recordsBefore: Set<string>;
    try {
      // `storage rm -r` ends with the bucket's managed folders listing, then sends the DELETE the slow rule holds.
      const listed = async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the run ended (exit ${child.exitCode}) before the DELETE of ${bucket}`);
        return (await requests()).some((r) => r.method === 'GET' && r.path.includes(`/b/${bucket}/managedFolders`));
      };
      await waitFor(`the last listing before the DELETE of ${bucket}`, listed, 120_000)
        .catch(async (e) => {
          const seen = (await requests()).map((r) => `${r.method} ${r.path}`).join('\n');
          throw new Error(`${(e as Error).message}\nrequests:\n${seen}\nstderr:\n${stderr.slice(-3000)}`);
        });
      await new Promise((r) => setTimeout(r, offsetMs)); // the seeded moment inside the held DELETE (not a synchronisation: checked below)
      const sentAt = Date.now();
      if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
      else process.kill(child.pid!, signal);
      const end = await exited;
      if (signal === 'SIGKILL') assert.is(end.signal, 'SIGKILL', 'the CLI was killed');
      else assert.is(end.code, EXIT_CODES[signal], `exit ${end.code} (signal ${end.signal}) after ${signal}\n${stderr.slice(-2000)}`);
      // A handled signal ends the run's processes itself; after kill -9 nothing can, until the next run takes
      // the dead run's lock and ends the process groups it names (checked after that run, below).
      if (signal !== 'SIGKILL') await waitFor('the run\'s processes are gone', () => processesWithEnv(p.sandbox.dir).length === 0, 90_000);
      // The interrupt landed mid-operation: the sandbox had received the DELETE before the signal (it holds
      // it SLOW_MS before answering) and answered it after.
      // The sandbox logs a request when it answers: the held DELETE shows up once its SLOW_MS are over.
      const deleteOf = async () => (await requests()).find((r) => r.method === 'DELETE' && r.path.endsWith(`/b/${bucket}`));
      await waitFor(`the answer to the DELETE of ${bucket}`, async () => !!(await deleteOf()), SLOW_MS + 15_000)
        .catch((e) => { throw new Error(`${(e as Error).message}: it never reached the sandbox\n${stderr.slice(-2000)}`); });
      const deleted = await deleteOf();
      const answeredAt = Date.parse(deleted!.time);
      assert.ok(answeredAt >= sentAt, `the DELETE was answered ${sentAt - answeredAt} ms before the signal`);
      assert.ok(answeredAt - SLOW_MS <= sentAt, `the DELETE arrived ${answeredAt - SLOW_MS - sentAt} ms after the signal`);
      recordsBefore = new Set(p.records().keys());
    } finally {
      await p.sandbox.setFaults({});
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }

    assert.equal(await falseRecords(p), [], 'a record claims a resource that does not exist');
    assert.not.ok(recordsBefore.has('buckets:create'), 'the deleted bucket\'s record was dropped');

    const next = await p.cli(['setup', '--json']);
    assert.is(next.code, 0, next.stderr.slice(-3000));
    assert.equal(processesWithEnv(p.sandbox.dir), [], 'no process of the interrupted run outlives the next run');
    const statuses = statusesOf(next);
    for (const t of SETUP_TASKS.filter((t) => !recordsBefore.has(t))) assert.is(statuses[t], 'ran', `${t} had no record: it runs and restores its resources`);
    if (op === 'resource:delete') {
      for (const t of SETUP_TASKS.filter((t) => t !== 'buckets:create')) assert.is(statuses[t], 'cached', `${t}: nothing else was missing`);
    }
    assert.equal(await falseRecords(p), []);
    for (const t of SETUP_TASKS) assert.ok(p.records().has(t), `${t} recorded again`);
    const ran = Object.entries(statuses).filter(([, s]) => s === 'ran').map(([t]) => t);
    console.log(`  trial ${trial}: ${op} ${signal} at +${offsetMs} ms → setup ran ${ran.join(', ') || 'nothing'}`);
  });
}

test.run();
