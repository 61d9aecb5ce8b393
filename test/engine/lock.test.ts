import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../lib/engine/errors.js';
import { acquireLock, lockPath, userLockDir } from '../../lib/engine/lock.js';
import { cliCommand, repoRoot } from '../helpers/cli.js';

const temp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gt-lock-'));

/** Alive and not a zombie (a killed child of init is reaped a moment later). */
function running(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('the lock folder is per user, not per state folder: two clones of one target exclude each other', async () => {
  const home = temp();
  const dir = userLockDir({ XDG_STATE_HOME: home });
  assert.is(dir, path.join(home, 'gcp-tasks', 'locks'));
  assert.is(userLockDir({ XDG_STATE_HOME: 'relative/path' }), path.join(os.homedir(), '.local', 'state', 'gcp-tasks', 'locks'));
  const first = await acquireLock(lockPath(dir, 'my-project', 'production'), { command: 'pnpm task deploy:all' });
  try {
    await acquireLock(lockPath(dir, 'my-project', 'production'), { command: 'pnpm task deploy:all' });
    assert.unreachable('the second clone must refuse');
  } catch (error) {
    assert.instance(error, UserError);
    assert.match((error as Error).message, `pid ${process.pid} of ${os.userInfo().username}`);
  }
  const otherEnv = await acquireLock(lockPath(dir, 'my-project', 'development'), { command: 'pnpm task status' });
  otherEnv.release();
  first.release();
  fs.rmSync(home, { recursive: true, force: true });
});

test('kill -9 of the holder: the next run ends the process groups it left running, then takes the lock and says whose it was', async () => {
  const file = lockPath(temp(), 'my-project', 'development');
  const holder = spawn(cliCommand[0], ['--import', import.meta.resolve('tsx'), path.join(repoRoot, 'test', 'fixtures', 'lock-holder.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const leftover = await new Promise<number>((resolve, reject) => {
    holder.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    holder.once('exit', () => reject(new Error('holder exited early')));
  });
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).groups, [leftover], 'the lock names the running command group');
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('exit', resolve));
  assert.ok(running(leftover), 'the command outlived its run (the fault this test is about happened)');

  const lock = await acquireLock(file, { command: 'pnpm task status' });
  assert.is(lock.tookOver?.holder.pid, holder.pid);
  assert.equal(lock.tookOver?.ended, [leftover]);
  const deadline = Date.now() + 5000;
  while (running(leftover) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.not.ok(running(leftover), 'no process of the dead run survives the takeover');
  assert.is(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
  lock.release();
  assert.not.ok(fs.existsSync(file));
});

test('a dead holder\'s group id now used by another process (ids are reused) is left alone', async () => {
  const file = lockPath(temp(), 'my-project', 'development');
  // Someone else's process, leading its own group, with an id the dead holder's lock names from an earlier start.
  const stranger = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const dead = { pid: 2 ** 22 + 1, host: os.hostname(), command: 'pnpm task cleanup', startedAt: new Date(0).toISOString(), groups: [stranger.pid!], groupStarts: { [stranger.pid!]: '1' } };
    fs.writeFileSync(file, JSON.stringify(dead));
    const lock = await acquireLock(file, { command: 'pnpm task status' });
    assert.is(lock.tookOver?.holder.pid, dead.pid, 'the dead holder\'s lock was taken over');
    assert.equal(lock.tookOver?.ended, [], 'nothing was ended');
    assert.ok(running(stranger.pid!), 'the other process still runs');
    lock.release();
  } finally {
    stranger.kill('SIGKILL');
  }
});

test.run();
