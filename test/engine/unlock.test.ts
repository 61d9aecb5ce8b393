// `pnpm task --unlock` with the local lock: it names the holder, asks on a terminal, refuses without --yes
// otherwise, and removes only after confirmation; a free lock is said to be free; task names are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { acquireLock, lockPath } from '../../lib/engine/lock.js';
import { fixtureProject, stateHome } from '../helpers/cli.js';
import { startCli } from './live-cli.js';

const project = 'unlock-project';
const file = lockPath(path.join(stateHome, 'gcp-tasks', 'locks'), project, 'development');
const env = { GCP_PROJECT_ID: project };

test('a free lock: nothing to remove', async () => {
  const p = fixtureProject();
  const r = await p.cli(['--unlock'], env);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `No lock to remove: ${file} is free.`);
  p.cleanup();
});

test('without a terminal: the holder is named, nothing is removed without --yes; with --yes it is', async () => {
  const p = fixtureProject();
  const held = await acquireLock(file, { command: 'pnpm task deploy:all' });
  const refused = await p.cli(['--unlock'], env);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, `The lock ${file} is held by pid ${process.pid}`);
  assert.match(refused.stderr, '`pnpm task deploy:all`');
  assert.match(refused.stderr, '--yes');
  assert.ok(fs.existsSync(file), 'still there');
  const removed = await p.cli(['--unlock', '--yes'], env);
  assert.is(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, `Removed the lock ${file}.`);
  assert.not.ok(fs.existsSync(file));
  held.release(); // no longer ours: releasing leaves the folder alone
  p.cleanup();
});

test('on a terminal it asks: "n" keeps the lock, "y" removes it', async () => {
  const p = fixtureProject();
  const held = await acquireLock(file, { command: 'pnpm task sql:stop' });
  const answer = async (text: string) => {
    const cli = startCli('basic', ['--unlock'], { ...env, GCP_TASKS_STATE_DIR: p.stateDir, GCP_TASKS_PROMPT_TTY: '1' });
    await cli.waitFor('Remove it?');
    cli.type(text);
    return cli.ended;
  };
  const kept = await answer('n\n');
  assert.is(kept.code, 1);
  assert.match(kept.stderr, 'The lock was left in place.');
  assert.ok(fs.existsSync(file));
  const removed = await answer('y\n');
  assert.is(removed.code, 0, removed.stderr);
  assert.not.ok(fs.existsSync(file));
  held.release();
  p.cleanup();
});

test('--unlock takes no task names', async () => {
  const p = fixtureProject();
  const r = await p.cli(['--unlock', 'lint'], env);
  assert.is(r.code, 2);
  assert.match(r.stderr, '--unlock takes no task names.');
  p.cleanup();
});

test.run();
