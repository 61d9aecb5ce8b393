// Two clones of a project (each with its own state folder) sharing a state bucket in the sandbox, through
// the real CLI: started together, one runs and the other refuses naming the holder; with --lock-timeout
// the second runs after the first and finds its work cached; a holder killed with kill -9 loses its lock
// when the lease runs out, and the next run says it took over; --unlock asks, or needs --yes.
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fixture, runCli, type CliResult } from '../helpers/cli.js';
import { testsNeeding } from '../helpers/skip.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const it = testsNeeding('gcloud', 'two clones sharing a state bucket in the sandbox');
const bucket = 'teams-e2e-state';
let sb: TestSandbox;
let tmp: string;

it.before(async () => {
  sb = await startTestSandbox();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-teams-'));
  await sb.ok(['services', 'enable', 'storage.googleapis.com']);
  await sb.ok(['storage', 'buckets', 'create', `gs://${bucket}`, '--location=us-central1', '--uniform-bucket-level-access']);
});

it.after(async () => {
  await sb?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** One scenario's shared parts: the bucket prefix, the gate that ends `hold`, the marks of real runs. */
function scenario(name: string, extraEnv: Record<string, string> = {}) {
  const dir = path.join(tmp, name);
  const marks = path.join(dir, 'marks');
  fs.mkdirSync(marks, { recursive: true });
  const gate = path.join(dir, 'gate');
  const lockObject = `${name}/${sb.handle.project}/development/lock.json`;
  /** A clone: its own state folder, the same project (the sandbox's), environment and bucket. */
  const clone = (id: string) => (args: string[], opts: { onSpawn?: (child: ChildProcess) => void; env?: Record<string, string> } = {}): Promise<CliResult> =>
    runCli(['--config', fixture('teams'), '--sandbox', ...args], {
      onSpawn: opts.onSpawn,
      timeoutMs: 120_000,
      env: { GCP_TASKS_SANDBOX_DIR: sb.dir, GCP_TASKS_STATE_DIR: path.join(dir, id), GCP_TASKS_STATE: `gs://${bucket}/${name}`, GATE_FILE: gate, MARK_DIR: marks, ...extraEnv, ...opts.env },
    });
  const lockHeld = async () => (await sb.fetch(`/storage/v1/b/${bucket}/o/${encodeURIComponent(lockObject)}`)).status === 200;
  /** Polls the bucket (bounded) until the lock object exists. */
  const waitForLock = async () => {
    const deadline = Date.now() + 60_000;
    while (!(await lockHeld())) {
      if (Date.now() > deadline) throw new Error(`no lock object ${lockObject} within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const runs = () => (fs.existsSync(path.join(marks, 'hold')) ? fs.readFileSync(path.join(marks, 'hold'), 'utf8').trim().split('\n') : []);
  return { clone, open: () => fs.writeFileSync(gate, ''), lockHeld, waitForLock, runs, lockObject };
}

const statusOf = (r: CliResult) => (JSON.parse(r.stdout) as { tasks: { name: string; status: string }[] }).tasks.find((t) => t.name === 'hold')?.status;

it('two clones started together: one runs, the other refuses naming it; with --lock-timeout it runs after and finds it cached', async () => {
  const s = scenario('together');
  const [a, b] = [s.clone('a'), s.clone('b')];
  const pids: Record<string, number> = {};
  const first = a(['hold', '--json'], { onSpawn: (c) => (pids.a = c.pid!) });
  const second = b(['hold', '--json'], { onSpawn: (c) => (pids.b = c.pid!) });
  // Whichever lost the race refuses at once; the winner holds the lock until the gate opens.
  const loser = await Promise.race([first.then(() => 'a'), second.then(() => 'b')]);
  const refused = await (loser === 'a' ? first : second);
  const winner = loser === 'a' ? 'b' : 'a';
  assert.is(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, `Another run holds the lock gs://${bucket}/${s.lockObject}: pid ${pids[winner]}`);
  assert.match(refused.stderr, /\(`pnpm task --config \S+ --sandbox hold --json`\)/, 'the holder\'s command');
  assert.match(refused.stderr, '--unlock');
  assert.ok(await s.lockHeld(), 'the winner still holds the lock');

  const waiting = (loser === 'a' ? a : b)(['hold', '--json', '--lock-timeout=60']);
  s.open();
  const done = await (winner === 'a' ? first : second);
  assert.is(done.code, 0, done.stderr);
  assert.is(statusOf(done), 'ran');
  const after = await waiting;
  assert.is(after.code, 0, after.stderr);
  assert.is(statusOf(after), 'cached', 'the other clone finds the record in the bucket');
  assert.is(s.runs().length, 1, 'hold ran once in all');
  assert.not.ok(await s.lockHeld(), 'released at the end');
});

it('kill -9 of the holder: its lease runs out, the next run takes over and says so', async () => {
  const s = scenario('killed', { GCP_TASKS_LEASE_SECONDS: '2' });
  let holder: ChildProcess | undefined;
  const killed = s.clone('a')(['hold'], { onSpawn: (c) => (holder = c) });
  await s.waitForLock();
  holder!.kill('SIGKILL');
  assert.is((await killed).code, null, 'killed, not exited');
  assert.ok(await s.lockHeld(), 'a killed run leaves its lock behind');
  s.open();
  const next = await s.clone('b')(['hold', '--json', '--lock-timeout=30']);
  assert.is(next.code, 0, next.stderr);
  assert.match(next.stderr, new RegExp(`Took over the lock gs://${bucket}/${s.lockObject} \\(its lease expired at [^)]+\\) from pid ${holder!.pid}`));
  assert.is(statusOf(next), 'ran', 'the killed run recorded nothing');
});

it('--unlock removes a crashed run\'s lock: it names the holder, and needs --yes without a terminal', async () => {
  const s = scenario('unlock', { GCP_TASKS_LEASE_SECONDS: '600' });
  let holder: ChildProcess | undefined;
  const killed = s.clone('a')(['hold'], { onSpawn: (c) => (holder = c) });
  await s.waitForLock();
  holder!.kill('SIGKILL');
  await killed;
  const refused = await s.clone('b')(['--unlock']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, `is held by pid ${holder!.pid}`);
  assert.match(refused.stderr, '--yes');
  assert.ok(await s.lockHeld(), 'nothing removed without confirmation');
  const removed = await s.clone('b')(['--unlock', '--yes']);
  assert.is(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, `Removed the lock gs://${bucket}/${s.lockObject}`);
  assert.not.ok(await s.lockHeld());
  s.open();
  const next = await s.clone('b')(['hold']);
  assert.is(next.code, 0, next.stderr);
  assert.not.match(next.stderr, 'Took over', 'the lock was free');
});

it('a state bucket that does not exist: one readable error naming state:init, nothing created', async () => {
  const s = scenario('missing', { GCP_TASKS_STATE: 'gs://no-such-state-bucket/team' });
  s.open();
  const r = await s.clone('a')(['hold']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'The state bucket gs://no-such-state-bucket does not exist');
  assert.match(r.stderr, 'pnpm task state:init');
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(s.runs(), [], 'the task did not run');
  assert.is((await sb.fetch('/storage/v1/b/no-such-state-bucket')).status, 404);
});

it.run();
