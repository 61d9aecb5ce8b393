// The executor: start order, the concurrency limit, failure modes and abort, all asserted from runner
// events. Tasks are held by deferred promises the test releases; nothing waits on a timer.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fetch as undiciFetch } from 'undici';
import { UserError } from '../../lib/engine/errors.js';
import { StateStore, recordsDir } from '../../lib/engine/cache.js';
import { failures } from '../../lib/engine/render.js';
import type { RunEvent } from '../../lib/engine/runner.js';
import { deferred, ended, eventWaiter, runTasks, started, task, tempDir } from '../helpers/engine.js';

test('a task starts as soon as its own deps are done, not when a whole wave is', async () => {
  const t = tempDir();
  const gates = { a: deferred(), b: deferred(), c: deferred() };
  const w = eventWaiter();
  const run = runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [task('a', [], () => gates.a.promise), task('b', ['a'], () => gates.b.promise), task('c', [], () => gates.c.promise)],
    onEvent: w.onEvent,
  });
  await w.waitFor(started('a'));
  await w.waitFor(started('c'));
  gates.a.resolve();
  await w.waitFor(started('b'));
  // c (same "wave" as a) is still running when b starts.
  assert.not.ok(w.seen.some(ended('c')), 'c has not finished yet');
  gates.b.resolve();
  gates.c.resolve();
  const outcome = await run;
  assert.equal(outcome.results.map((r) => r.status), ['ran', 'ran', 'ran']);
  t.cleanup();
});

test('at most -j tasks run at once, and the limit is reached', async () => {
  const t = tempDir();
  const names = Array.from({ length: 10 }, (_, i) => `t${i}`);
  const gates = new Map(names.map((n) => [n, deferred()]));
  const held: string[] = [];
  let running = 0;
  let maxRunning = 0;
  let startedCount = 0;
  const onEvent = (e: RunEvent) => {
    if (e.type === 'start') {
      running++;
      startedCount++;
      maxRunning = Math.max(maxRunning, running);
      held.push(e.task);
      // Keep the pool full: release the oldest task only when the limit is reached; drain at the end.
      if (startedCount === names.length) held.splice(0).forEach((n) => gates.get(n)!.resolve());
      else if (running === 3) gates.get(held.shift()!)!.resolve();
    }
    if (e.type === 'end') running--;
  };
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: names.map((n) => task(n, [], () => gates.get(n)!.promise)),
    options: { concurrency: 3 },
    onEvent,
  });
  assert.is(maxRunning, 3);
  assert.is(startedCount, 10);
  assert.ok(outcome.results.every((r) => r.status === 'ran'));
  t.cleanup();
});

test('tasks waiting on deps hold no slot: an independent task runs while five dependents wait', async () => {
  const t = tempDir();
  const gate = deferred();
  const w = eventWaiter();
  const dependents = ['d1', 'd2', 'd3', 'd4', 'd5'].map((n) => task(n, ['slow']));
  const run = runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [task('slow', [], () => gate.promise), ...dependents, task('free')],
    options: { concurrency: 2 },
    onEvent: w.onEvent,
  });
  await w.waitFor(ended('free'));
  assert.not.ok(w.seen.some(ended('slow')));
  gate.resolve();
  const outcome = await run;
  assert.ok(outcome.results.every((r) => r.status === 'ran'));
  t.cleanup();
});

test('outputs of a dependency reach its dependents as ctx.deps', async () => {
  const t = tempDir();
  let seen: unknown;
  await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      task('build', [], async () => ({ digest: 'sha256:1' })),
      task('deploy', ['build'], async (ctx) => {
        seen = ctx.deps;
      }),
    ],
  });
  assert.equal(seen, { build: { digest: 'sha256:1' } });
  t.cleanup();
});

test('after a failure, running tasks finish, no new task starts, dependents are skipped', async () => {
  const t = tempDir();
  const w = eventWaiter();
  const busy = deferred();
  const run = runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      task('busy', [], () => busy.promise),
      task('breaks', [], async () => {
        await w.waitFor(started('busy'));
        throw new UserError('boom');
      }),
      // Its dependency succeeds, but only after the failure: it must not start.
      task('queued', ['busy']),
      task('after', ['breaks']),
    ],
    options: { concurrency: 2 },
    onEvent: w.onEvent,
  });
  await w.waitFor(ended('breaks'));
  busy.resolve();
  const outcome = await run;
  assert.is(outcome.byName.get('busy')!.status, 'ran');
  assert.is(outcome.byName.get('breaks')!.status, 'failed');
  assert.is(outcome.byName.get('queued')!.status, 'not-run');
  assert.is(outcome.byName.get('after')!.status, 'skipped-dep-failed');
  assert.is(outcome.byName.get('after')!.cause, 'breaks');
  assert.not.ok(outcome.events.some(started('queued')));
  assert.ok(outcome.failed);
  t.cleanup();
});

test('--continue runs every task that does not depend on a failure; skips name the root failure', async () => {
  const t = tempDir();
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      task('breaks', [], async () => {
        throw new Error('boom');
      }),
      task('mid', ['breaks']),
      task('leaf', ['mid']),
      task('other1'),
      task('other2', ['other1']),
    ],
    options: { concurrency: 1, continueOnError: true },
  });
  assert.equal(
    outcome.results.map((r) => [r.name, r.status]),
    [
      ['breaks', 'failed'],
      ['mid', 'skipped-dep-failed'],
      ['leaf', 'skipped-dep-failed'],
      ['other1', 'ran'],
      ['other2', 'ran'],
    ],
  );
  assert.is(outcome.byName.get('leaf')!.cause, 'breaks');
  t.cleanup();
});

test('failures are reported root failure first', async () => {
  const t = tempDir();
  const w = eventWaiter();
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      task('second', [], async () => {
        await w.waitFor(ended('first'));
        throw new Error('later');
      }),
      task('first', [], async () => {
        throw new Error('root cause');
      }),
    ],
    options: { continueOnError: true },
    onEvent: w.onEvent,
  });
  assert.equal(failures(outcome).map((r) => r.name), ['first', 'second']);
  t.cleanup();
});

/** Alive and not a zombie (a container's init may not reap reparented children at once). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10)); // poll, bounded
  }
  return true;
}

test('abort: running tasks get the signal, their whole process tree dies, nothing is recorded, nothing new starts', async () => {
  const t = tempDir();
  const w = eventWaiter();
  const controller = new AbortController();
  const pidFile = path.join(t.dir, 'grandchild.pid');
  let grandchild = 0;
  const run = runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      // A shell with a background grandchild: killing only the shell would leave `sleep` behind.
      task('sleeper', [], async (ctx) => void (await ctx.$`sleep 30 & echo $! > ${pidFile}; wait`)),
      task('after', ['sleeper']),
    ],
    options: { concurrency: 1, signal: controller.signal },
    onEvent: w.onEvent,
  });
  assert.ok(await until(() => fs.existsSync(pidFile) && /^\d+\n$/.test(fs.readFileSync(pidFile, 'utf8'))), 'the grandchild started');
  grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(isAlive(grandchild), 'the grandchild runs before the abort');
  controller.abort();
  const outcome = await run;
  assert.ok(outcome.interrupted);
  assert.is(outcome.byName.get('sleeper')!.status, 'interrupted');
  assert.is(outcome.byName.get('after')!.status, 'not-run');
  assert.not.ok(outcome.events.some(started('after')));
  assert.ok(await until(() => !isAlive(grandchild)), 'the grandchild sleep process was killed');
  assert.is(await new StateStore(recordsDir(t.stateDir, 'demo', 'development')).read('sleeper'), null);
  t.cleanup();
});

test('each task writes its own log file with every line, including command output', async () => {
  const t = tempDir();
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [
      task('talk', [], async (ctx) => {
        ctx.log.info('hello');
        ctx.log.debug('details');
        await ctx.$`echo one; echo two; echo oops >&2`;
      }),
    ],
  });
  const log = fs.readFileSync(outcome.byName.get('talk')!.log!, 'utf8');
  for (const line of ['hello', '[debug] details', '[cmd] $ echo one; echo two; echo oops >&2', 'one', 'two', '[stderr] oops']) {
    assert.ok(log.split('\n').includes(line), `log has ${line}\n${log}`);
  }
  // Without --verbose the screen gets the logger's info line, not debug lines or raw command output.
  const lines = outcome.events.flatMap((e) => (e.type === 'line' ? [e.line] : []));
  assert.equal(lines, ['hello']);
  t.cleanup();
});

test('outputs that are not JSON fail the task with a clear message', async () => {
  const t = tempDir();
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [task('bad', [], async () => ({ n: 10n }) as never)],
  });
  assert.is(outcome.byName.get('bad')!.status, 'failed');
  assert.match(String((outcome.byName.get('bad')!.error as Error).message), 'not plain JSON');
  t.cleanup();
});

test('a task can hand its abort signal to fetch (undici checks the signal\'s listener cap)', async () => {
  const t = tempDir();
  const server = http.createServer((_req, res) => res.end('pong'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const outcome = await runTasks({
    root: t.dir,
    stateDir: t.stateDir,
    tasks: [task('ping', [], async (ctx) => {
      const res = await undiciFetch(`http://127.0.0.1:${port}/`, { signal: ctx.signal });
      return { body: await res.text() };
    })],
  });
  server.close();
  assert.is(outcome.byName.get('ping')!.status, 'ran', String(outcome.byName.get('ping')!.error));
  assert.equal(outcome.byName.get('ping')!.outputs, { body: 'pong' });
  t.cleanup();
});

test.run();
