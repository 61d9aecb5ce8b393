// The CLI end to end, as a subprocess: destructive steps (refusal without a terminal, prompts, invalidated
// records), the run lock, Ctrl-C once and twice.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject, stateHome } from '../helpers/cli.js';
import { startCli } from './live-cli.js';


test('a destructive task without a terminal and without --yes is refused before anything runs', async () => {
  const p = fixtureProject();
  const refused = await p.cli(['lint', 'app:delete']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, 'app:delete is destructive');
  assert.match(refused.stderr, '--yes');
  assert.equal(p.ran(), [], 'not even the harmless task ran');
  const confirmed = await p.cli(['app:delete', '--yes']);
  assert.is(confirmed.code, 0, confirmed.stderr);
  assert.equal(p.ran(), ['app_delete']);
  p.cleanup();
});

test('a confirmation is asked on the terminal: "y" runs the destructive step, anything else declines', async () => {
  const p = fixtureProject();
  // GCP_TASKS_PROMPT_TTY=1 lets a test answer on piped stdin as if it were a terminal; an answer counts only
  // when typed after the question is shown.
  const answer = async (text: string) => {
    const cli = startCli('basic', ['app:delete'], { GCP_TASKS_STATE_DIR: p.stateDir, MARK_DIR: path.join(p.dir, 'marks'), GCP_TASKS_PROMPT_TTY: '1' });
    await cli.waitFor('Delete the app? [y/N]');
    cli.type(text);
    return cli.ended;
  };
  const declined = await answer('n\n');
  assert.is(declined.code, 0, declined.stderr);
  assert.equal(p.ran(), []);
  const accepted = await answer('y\n');
  assert.is(accepted.code, 0, accepted.stderr);
  assert.equal(p.ran(), ['app_delete']);
  p.cleanup();
});

test('the invalidated record makes the deleted resource run again (never reported cached)', async () => {
  const p = fixtureProject();
  await p.cli(['deploy:app']);
  await p.cli(['app:delete', '--yes']);
  const r = JSON.parse((await p.cli(['deploy:app', '--json'])).stdout);
  assert.equal(r.tasks.find((t: { name: string }) => t.name === 'deploy:app').reason, 'never ran');
  p.cleanup();
});

test('a second run of the same project/env refuses while the first holds the lock', async () => {
  const p = fixtureProject();
  let first: import('node:child_process').ChildProcess | undefined;
  const running = p.cli(['slow'], {}, { onSpawn: (child) => (first = child) });
  const lockFile = path.join(stateHome, 'gcp-tasks', 'locks', 'local.development.lock');
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(lockFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50)); // poll, bounded
  const second = await p.cli(['lint']);
  assert.is(second.code, 1);
  assert.match(second.stderr, /Another run holds the lock: pid \d+ .*pnpm task --config .* slow/);
  assert.match(second.stderr, /since \d{4}-/);
  first!.kill('SIGINT');
  const r = await running;
  assert.is(r.code, 130);
  p.cleanup();
});

test('Ctrl-C: running task interrupted, its child killed, nothing recorded, exit 130; the next run starts over', async () => {
  const p = fixtureProject();
  let child: import('node:child_process').ChildProcess | undefined;
  const running = p.cli(['slow', '--json'], {}, { onSpawn: (c) => (child = c) });
  const log = path.join(p.stateDir, 'logs', 'slow.log');
  const deadline = Date.now() + 30_000;
  while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('sleep 30')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child!.kill('SIGINT');
  const r = await running;
  assert.is(r.code, 130);
  assert.match(r.stderr, 'Interrupted');
  assert.is(JSON.parse(r.stdout).tasks[0].status, 'interrupted');
  assert.equal(p.ran(), []);
  const next = JSON.parse((await p.cli(['slow', '-n', '--json'])).stdout);
  assert.is(next.tasks[0].reason, 'never ran');
  p.cleanup();
});

test('a second Ctrl-C exits at once (130) even when a task ignores the first', async () => {
  const p = fixtureProject();
  let child: import('node:child_process').ChildProcess | undefined;
  let stderr = '';
  const running = p.cli(['stubborn'], {}, {
    onSpawn: (c) => {
      child = c;
      c.stderr!.on('data', (d) => (stderr += d));
    },
  });
  const deadline = Date.now() + 30_000;
  const waitFor = async (text: string) => {
    while (!stderr.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50)); // poll, bounded
  };
  await waitFor('ignoring signals');
  child!.kill('SIGINT');
  await waitFor('Interrupted: stopping running tasks');
  child!.kill('SIGINT');
  const r = await running;
  assert.is(r.code, 130);
  assert.match(r.stderr, 'Interrupted again: exiting now.');
  assert.not.ok(fs.existsSync(path.join(stateHome, 'gcp-tasks', 'locks', 'local.development.lock')), 'the lock was released on the way out');
  p.cleanup();
});

test.run();
