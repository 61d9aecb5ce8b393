// The fingerprint cache: a hit, a miss (with its reason) for each kind of input, outputs carried to
// dependents, records only after success, crash safety under kill -9, and the run lock.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FingerprintContext, TaskDef } from '../../lib/engine/types.js';
import { UserError } from '../../lib/engine/errors.js';
import { Fingerprinter, StateStore, clearRecords, literalPath, recordsDir } from '../../lib/engine/cache.js';
import { acquireLock, lockPath } from '../../lib/engine/lock.js';
import { runTasks, task, tempDir, type RunSpec } from '../helpers/engine.js';
import { repoRoot } from '../helpers/cli.js';

/** Runs `spec` twice, changing something in between; returns the second run's result for `name`. */
async function rerun(name: string, first: Omit<RunSpec, 'root' | 'stateDir'>, second: Partial<RunSpec> = {}, between?: (dir: string) => void) {
  const t = tempDir();
  const r1 = await runTasks({ ...first, root: t.dir, stateDir: t.stateDir });
  assert.is(r1.byName.get(name)!.status, 'ran');
  between?.(t.dir);
  const r2 = await runTasks({ ...first, ...second, root: t.dir, stateDir: t.stateDir });
  t.cleanup();
  return r2.byName.get(name)!;
}

test('a second run with nothing changed is all cached, and run() is not called again', async () => {
  let calls = 0;
  const tasks = [task('a', [], async () => (calls++, { v: 1 })), task('b', ['a'])];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  const second = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.equal(second.results.map((r) => [r.name, r.status, r.reason]), [
    ['a', 'cached', 'up to date'],
    ['b', 'cached', 'up to date'],
  ]);
  assert.is(calls, 1);
  t.cleanup();
});

test('miss: the task definition changed', async () => {
  const r = await rerun('a', { tasks: [task('a', [], async () => 1)] }, { tasks: [task('a', [], async () => 2)] });
  assert.equal([r.status, r.reason], ['ran', 'task definition changed']);
});

test('miss: the declared config slice changed', async () => {
  const withTier = (tier: string): TaskDef<any> => task('sql', [], async () => {}, { inputs: { config: () => ({ tier }) } });
  // Same source text, different closure value: only the config slice tells them apart.
  const r = await rerun('sql', { tasks: [withTier('db-f1-micro')] }, { tasks: [withTier('db-custom-1-3840')] });
  assert.equal([r.status, r.reason], ['ran', 'config changed']);
});

test('miss: a declared env value changed; undeclared env values do not matter', async () => {
  const tasks = [task('a', [], async () => {}, { inputs: { env: ['IMAGE_TAG'] } })];
  const changed = await rerun('a', { tasks, vars: { IMAGE_TAG: 'v1', OTHER: 'x' } }, { vars: { IMAGE_TAG: 'v2', OTHER: 'x' } });
  assert.equal([changed.status, changed.reason], ['ran', 'env IMAGE_TAG changed']);
  const other = await rerun('a', { tasks, vars: { IMAGE_TAG: 'v1', OTHER: 'x' } }, { vars: { IMAGE_TAG: 'v1', OTHER: 'y' } });
  assert.is(other.status, 'cached');
});

test('env values are stored hashed, never in clear', async () => {
  const t = tempDir();
  const secret = 'hunter2-very-secret-value';
  await runTasks({ tasks: [task('a', [], async () => {}, { inputs: { env: ['DB_PASS'] } })], vars: { DB_PASS: secret }, root: t.dir, stateDir: t.stateDir });
  const text = fs.readFileSync(path.join(recordsDir(t.stateDir, 'demo', 'development'), 'a.json'), 'utf8');
  assert.not.match(text, secret);
  assert.match(text, '"DB_PASS"');
  t.cleanup();
});

test('miss: an input file changed, was added, or was removed (content-hashed)', async () => {
  const tasks = [task('build', [], async () => {}, { inputs: { files: ['src/**/*.ts'] } })];
  const setup = (dir: string) => {
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a = 1;');
  };
  const t = tempDir();
  setup(t.dir);
  const run = () => runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.is((await run()).byName.get('build')!.status, 'ran');
  // Touching a file without changing it is not a change.
  fs.utimesSync(path.join(t.dir, 'src', 'a.ts'), new Date(), new Date(Date.now() + 5000));
  assert.is((await run()).byName.get('build')!.status, 'cached');
  fs.writeFileSync(path.join(t.dir, 'src', 'a.ts'), 'export const a = 2;');
  assert.is((await run()).byName.get('build')!.reason, 'input src/a.ts changed');
  fs.writeFileSync(path.join(t.dir, 'src', 'b.ts'), 'export const b = 1;');
  assert.is((await run()).byName.get('build')!.reason, 'input src/b.ts added');
  fs.rmSync(path.join(t.dir, 'src', 'a.ts'));
  assert.is((await run()).byName.get('build')!.reason, 'input src/a.ts removed');
  // Files outside the globs do not count.
  fs.writeFileSync(path.join(t.dir, 'README.md'), 'hello');
  assert.is((await run()).byName.get('build')!.status, 'cached');
  t.cleanup();
});

test('plain-path inputs (escapes included) fingerprint exactly like the same files matched by a glob', async () => {
  const t = tempDir();
  fs.mkdirSync(path.join(t.dir, 'src', 'node_modules'), { recursive: true });
  fs.writeFileSync(path.join(t.dir, 'src', 'a[1].ts'), 'export const a = 1;');
  fs.writeFileSync(path.join(t.dir, 'src', 'b.ts'), 'export const b = 1;');
  fs.writeFileSync(path.join(t.dir, 'src', 'node_modules', 'c.ts'), 'export const c = 1;');
  const plain = ['src/a\\[1\\].ts', path.join(t.dir, 'src', 'b.ts'), 'src/node_modules/c.ts', 'src/missing.ts', 'src'];
  const fp = new Fingerprinter({ salt: 's', root: t.dir });
  const ctx = { env: 'development', target: {}, vars: {}, args: {} } as unknown as FingerprintContext;
  const byPaths = await fp.compute(task('p', [], async () => {}, { inputs: { files: plain } }), ctx, new Map());
  const byGlob = await fp.compute(task('p', [], async () => {}, { inputs: { files: ['src/*.ts', 'src/**/c.ts'] } }), ctx, new Map());
  assert.equal(Object.keys(byPaths.parts.files), ['src/a[1].ts', 'src/b.ts'], 'a folder, a missing file and node_modules are not inputs');
  assert.equal(byPaths.parts.files, byGlob.parts.files);
  assert.equal(['a.ts', 'a\\*.ts', '/x/y\\{1\\}'].map(literalPath), ['a.ts', 'a*.ts', '/x/y{1}']);
  assert.equal(['*.ts', 'a/**', 'a?.ts', '{a,b}', '!a', 'x/@(a|b)', 'a[0-9]'].map(literalPath), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  t.cleanup();
});

test('miss: project, region or environment changed', async () => {
  const tasks = [task('a')];
  // Each project has its own records: p2 never ran here, and p1 stays cached.
  const t = tempDir();
  await runTasks({ tasks, project: 'p1', root: t.dir, stateDir: t.stateDir });
  const p2 = await runTasks({ tasks, project: 'p2', root: t.dir, stateDir: t.stateDir });
  assert.equal([p2.byName.get('a')!.status, p2.byName.get('a')!.reason], ['ran', 'never ran']);
  assert.is((await runTasks({ tasks, project: 'p1', root: t.dir, stateDir: t.stateDir })).byName.get('a')!.status, 'cached');
  t.cleanup();
  const region = await rerun('a', { tasks, region: 'us-central1' }, { region: 'europe-west1' });
  assert.equal([region.status, region.reason], ['ran', 'region changed (us-central1 → europe-west1)']);
  // Each environment has its own records too.
  const env = await rerun('a', { tasks, env: 'development' }, { env: 'production' });
  assert.equal([env.status, env.reason], ['ran', 'never ran']);
});

test('miss: the task arguments changed', async () => {
  const r = await rerun('a', { tasks: [task('a')], args: { to: 'rev-1' } }, { args: { to: 'rev-2' } });
  assert.equal([r.status, r.reason], ['ran', 'arguments changed']);
});

test("a dependency's OUTPUT decides: same output → dependent cached, new output → dependent runs", async () => {
  let digest = 'sha256:1';
  let deploys = 0;
  const tasks = [
    task('build', [], async () => ({ digest }), { always: true }),
    task('deploy', ['build'], async () => {
      deploys++;
    }),
  ];
  const t = tempDir();
  const run = () => runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  await run();
  const same = await run();
  assert.equal([same.byName.get('build')!.status, same.byName.get('deploy')!.status], ['ran', 'cached']);
  digest = 'sha256:2';
  const changed = await run();
  assert.equal([changed.byName.get('deploy')!.status, changed.byName.get('deploy')!.reason], ['ran', 'dependency build output changed']);
  assert.is(deploys, 2);
  t.cleanup();
});

test('recorded outputs of a cached task are handed to a dependent that runs', async () => {
  let buildRuns = 0;
  let seen: unknown;
  const tasks = [
    task('build', [], async () => (buildRuns++, { digest: 'sha256:abc' })),
    task('deploy', ['build'], async (ctx) => {
      seen = ctx.deps.build;
    }),
  ];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  seen = undefined;
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['deploy'], options: { force: new Set(['deploy']) } });
  assert.is(r.byName.get('build')!.status, 'cached');
  assert.equal([r.byName.get('deploy')!.status, r.byName.get('deploy')!.reason], ['ran', 'forced']);
  assert.equal(seen, { digest: 'sha256:abc' });
  assert.is(buildRuns, 1);
  t.cleanup();
});

test('--only uses the recorded outputs of deps, and refuses clearly when there are none', async () => {
  let seen: unknown;
  const tasks = [task('build', [], async () => ({ digest: 'd1' })), task('deploy', ['build'], async (ctx) => void (seen = ctx.deps.build))];
  const t = tempDir();
  try {
    await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['deploy'], only: true });
    assert.unreachable('should refuse');
  } catch (error) {
    assert.instance(error, UserError);
    assert.match((error as Error).message, '--only needs the recorded outputs of "build"');
  }
  assert.is(seen, undefined, 'nothing ran');
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['build'] });
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['deploy'], only: true });
  assert.equal(r.results.map((x) => x.name), ['deploy']);
  assert.equal(seen, { digest: 'd1' });
  t.cleanup();
});

test('always tasks run every time and write no record', async () => {
  let runs = 0;
  const tasks = [task('status', [], async () => void runs++, { always: true })];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.equal([r.byName.get('status')!.status, r.byName.get('status')!.reason, runs], ['ran', 'always runs', 2]);
  assert.is(await new StateStore(recordsDir(t.stateDir, 'demo', 'development')).read('status'), null);
  t.cleanup();
});

test('the record is deleted before a task runs: a failed rerun leaves it stale, not done', async () => {
  let fail = false;
  const tasks = [task('a', [], async () => {
    if (fail) throw new Error('broken');
  })];
  const t = tempDir();
  const store = new StateStore(recordsDir(t.stateDir, 'demo', 'development'));
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.ok(await store.read('a'));
  fail = true;
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, options: { force: new Set(['a']) } });
  assert.is(r.byName.get('a')!.status, 'failed');
  assert.is(await store.read('a'), null);
  fail = false;
  assert.is((await runTasks({ tasks, root: t.dir, stateDir: t.stateDir })).byName.get('a')!.reason, 'never ran');
  t.cleanup();
});

test('invalidates (declared and ctx.invalidate) drop other tasks\' records', async () => {
  const tasks = [
    task('bucket:create'),
    task('sql:create'),
    task('bucket:delete', [], async () => {}, { always: true, invalidates: ['bucket:create'] }),
    task('sql:delete', [], async (ctx) => ctx.invalidate(['sql:create']), { always: true }),
  ];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['bucket:create', 'sql:create'] });
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['bucket:delete', 'sql:delete'] });
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['bucket:create', 'sql:create'] });
  assert.equal(r.results.map((x) => [x.name, x.reason]), [
    ['bucket:create', 'never ran'],
    ['sql:create', 'never ran'],
  ]);
  t.cleanup();
});

test('--refresh runs the live check of cached tasks and reruns those whose check fails', async () => {
  let exists = true;
  let runs = 0;
  const tasks = [task('bucket', [], async () => void runs++, { check: async () => exists }), task('plain')];
  const t = tempDir();
  const run = (refresh: boolean) => runTasks({ tasks, root: t.dir, stateDir: t.stateDir, options: { refresh } });
  await run(false);
  assert.is((await run(true)).byName.get('bucket')!.status, 'cached');
  exists = false; // deleted out of band
  assert.is((await run(false)).byName.get('bucket')!.status, 'cached', 'without --refresh the record is trusted');
  const refreshed = await run(true);
  assert.equal([refreshed.byName.get('bucket')!.status, refreshed.byName.get('bucket')!.reason], ['ran', 'the live check found a difference (--refresh)']);
  assert.ok(refreshed.events.some((e) => e.type === 'check' && e.task === 'bucket'));
  assert.is(runs, 2);
  t.cleanup();
});

test('dry-run decides like a run but runs and writes nothing', async () => {
  let runs = 0;
  const tasks = [task('a', [], async () => void runs++), task('b', ['a'], async () => void runs++), task('c', [], async () => void runs++)];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, targets: ['c'] });
  runs = 0;
  const dry = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir, options: { dryRun: true } });
  assert.equal(dry.results.map((r) => [r.name, r.status, r.reason]), [
    ['a', 'would-run', 'never ran'],
    ['b', 'would-run', 'never ran'],
    ['c', 'cached', 'up to date'],
  ]);
  assert.is(runs, 0);
  assert.not.ok(fs.existsSync(path.join(t.stateDir, 'logs', 'a.log')));
  assert.is(await new StateStore(recordsDir(t.stateDir, 'demo', 'development')).read('a'), null);
  t.cleanup();
});

test('clearRecords forgets the named tasks, or all', async () => {
  const tasks = [task('a'), task('b')];
  const t = tempDir();
  await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.is(await clearRecords(t.stateDir, ['a']), 1);
  const r = await runTasks({ tasks, root: t.dir, stateDir: t.stateDir });
  assert.equal(r.results.map((x) => x.status), ['ran', 'cached']);
  assert.is(await clearRecords(t.stateDir), 2);
  t.cleanup();
});

test('kill -9 while records are being written never leaves a torn or half-written record', async () => {
  const t = tempDir();
  const dir = path.join(t.dir, 'records');
  for (let round = 0; round < 4; round++) {
    // node + the tsx loader in ONE process, so SIGKILL hits the writer itself (the tsx CLI would leave it orphaned).
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test', 'fixtures', 'record-writer.ts'), dir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
      child.on('exit', () => reject(new Error('writer exited early')));
    });
    // Let it write a varying number of records, then kill it mid-loop.
    await new Promise<void>((resolve) => {
      let seenWrites = 0;
      const watcher = fs.watch(dir, () => {
        if (++seenWrites >= 20 + round * 15) {
          watcher.close();
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const store = new StateStore(dir);
    for (const name of ['alpha', 'beta', 'gamma']) {
      const record = await store.read(name);
      assert.ok(record, `${name} has a complete record after kill -9 (round ${round})`);
      assert.is(record!.task, name);
      assert.is((record!.outputs as { padding: string }).padding.length >= 20_000, true);
    }
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')); // never torn
    }
  }
  t.cleanup();
});

test('lock: a live holder makes a second run refuse, naming its pid and since when', async () => {
  const t = tempDir();
  const file = lockPath(t.stateDir, 'demo', 'production');
  const holder = await acquireLock(file, { command: 'pnpm task deploy:all' });
  try {
    await acquireLock(file, { command: 'pnpm task sql:stop' });
    assert.unreachable('second run must refuse');
  } catch (error) {
    assert.instance(error, UserError);
    const message = (error as Error).message;
    assert.match(message, `pid ${process.pid}`);
    assert.match(message, 'pnpm task deploy:all');
    assert.match(message, /since \d{4}-\d\d-\d\dT/);
    assert.match((error as UserError).hint!, '--lock-timeout');
  }
  holder.release();
  const again = await acquireLock(file, { command: 'pnpm task sql:stop' });
  again.release();
  assert.not.ok(fs.existsSync(file));
  t.cleanup();
});

test('lock: a lock left by a dead process is taken over', async () => {
  const t = tempDir();
  const file = lockPath(t.stateDir, 'demo', 'development');
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => dead.once('exit', resolve));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid: dead.pid, host: (await import('node:os')).hostname(), command: 'pnpm task setup', startedAt: new Date(0).toISOString() }));
  const lock = await acquireLock(file, { command: 'pnpm task status' });
  assert.is(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
  lock.release();
  t.cleanup();
});

test('lock: with a timeout, a second run waits for the holder to exit', async () => {
  const t = tempDir();
  const file = lockPath(t.stateDir, 'demo', 'development');
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid: holder.pid, host: (await import('node:os')).hostname(), command: 'pnpm task setup', startedAt: new Date().toISOString() }));
  const waiting = acquireLock(file, { command: 'pnpm task status', timeoutMs: 30_000 });
  let settled = false;
  void waiting.then(() => (settled = true), () => (settled = true));
  await Promise.resolve();
  assert.not.ok(settled, 'still waiting while the holder lives');
  holder.kill('SIGKILL');
  const lock = await waiting;
  assert.is(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
  lock.release();
  t.cleanup();
});

test.run();
