// The CLI as a subprocess, stopped the ways a user stops it: SIGHUP and SIGTERM like Ctrl-C, a second signal,
// a question interrupted, a task that returns after Ctrl-C, a task or config whose promise never settles, a
// command left running. After each, no process of the run survives.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject } from '../helpers/cli.js';
import { processesWithEnv } from '../helpers/processes.js';
import { startCli } from './live-cli.js';

/** A fixture project of safety.config.ts, and the CLI started live on it. */
function project() {
  const p = fixtureProject('safety');
  const env = { GCP_TASKS_STATE_DIR: p.stateDir, MARK_DIR: path.join(p.dir, 'marks') };
  return { ...p, start: (args: string[], extra: Record<string, string> = {}) => startCli('safety', args, { ...env, ...extra }) };
}

/** Processes of this project's runs still alive (every one carries its folder in its environment), polled until none, bounded. */
async function survivors(dir: string): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let left = processesWithEnv(dir);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100)); // poll, bounded: a killed process leaves /proc on its own time
    left = processesWithEnv(dir);
  }
  return left;
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  test(`${signal} stops the run like Ctrl-C: task interrupted, its child killed, summary and --json, exit ${code}`, async () => {
    const p = project();
    const cli = p.start(['swallows-interrupt', '--json']);
    await cli.waitFor('sleeping in a child process');
    cli.child.kill(signal);
    const r = await cli.ended;
    assert.is(r.code, code, r.stderr);
    assert.match(r.stderr, `Interrupted by ${signal}`);
    assert.match(r.stderr, 'Summary (');
    const json = JSON.parse(r.stdout);
    assert.is(json.exitCode, code);
    assert.is(json.tasks[0].status, 'interrupted');
    assert.equal(await survivors(p.dir), [], 'no process of the run survives');
    p.cleanup();
  });
}

test('a task that returns after Ctrl-C (it caught its own command failing) is interrupted, not recorded', async () => {
  const p = project();
  const cli = p.start(['swallows-interrupt', '--json']);
  await cli.waitFor('sleeping in a child process');
  cli.child.kill('SIGINT');
  const r = await cli.ended;
  assert.is(r.code, 130, r.stderr);
  assert.equal(p.ran(), ['swallows-interrupt'], 'the task did return after the interrupt');
  assert.is(JSON.parse(r.stdout).tasks[0].status, 'interrupted');
  assert.match(r.stderr, /✖ swallows-interrupt interrupted/);
  assert.not.match(r.stderr, /✔ swallows-interrupt/);
  const next = JSON.parse((await p.cli(['swallows-interrupt', '-n', '--json'])).stdout);
  assert.is(next.tasks[0].reason, 'never ran', 'nothing was recorded');
  p.cleanup();
});

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`a second ${signal} exits at once with ${code}, and kills the child that ignored the first`, async () => {
    const p = project();
    const cli = p.start(['child-ignores-sigterm']);
    await cli.waitFor('child is ignoring SIGTERM');
    cli.child.kill(signal);
    await cli.waitFor('stopping running tasks');
    cli.child.kill(signal);
    const r = await cli.ended;
    assert.is(r.code, code, r.stderr);
    assert.match(r.stderr, 'Interrupted again: exiting now.');
    assert.equal(await survivors(p.dir), [], 'the child that ignored SIGTERM is gone');
    assert.not.ok(fs.existsSync(path.join(p.stateDir, 'locks', 'local.development.lock')), 'the lock was released');
    p.cleanup();
  });
}

test('a command a task left running does not outlive the run', async () => {
  const p = project();
  const r = await p.cli(['leaves-a-command-running']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'started sleep 1717 and left it');
  assert.equal(await survivors(p.dir), []);
  p.cleanup();
});

test('a task whose promise never settles: named with its last line, summary and --json printed, exit 1', async () => {
  const p = project();
  const r = await p.cli(['after-never-settles', '--json']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /✖ never-settles: It never finished: it waits on a promise that can never settle.*"waiting for a callback that never comes"/);
  assert.match(r.stderr, 'Summary (');
  const json = JSON.parse(r.stdout);
  assert.is(json.exitCode, 1);
  assert.equal(json.tasks.map((t: { status: string }) => t.status), ['failed', 'skipped-dep-failed']);
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('a task whose promise never settles, after Ctrl-C: interrupted, exit 130', async () => {
  const p = project();
  const cli = p.start(['never-settles', 'swallows-interrupt', '--json']);
  await cli.waitFor('waiting for a callback that never comes');
  await cli.waitFor('sleeping in a child process');
  cli.child.kill('SIGINT');
  const r = await cli.ended;
  assert.is(r.code, 130, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.tasks.map((t: { status: string }) => t.status), ['interrupted', 'interrupted']);
  p.cleanup();
});

test('a config whose top-level await never settles: named, --json error object, exit 1', async () => {
  const p = fixtureProject('stalled');
  const r = await p.cli(['never-reached', '--json']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, 'Error: The run stopped while loading the config stalled.config.ts: it waits on a promise that can never settle.');
  const json = JSON.parse(r.stdout);
  assert.equal([json.ok, json.exitCode], [false, 1]);
  assert.match(json.error, 'stalled.config.ts');
  p.cleanup();
});

test('Ctrl-C at a question ends the questions and the run: exit 130, nothing more asked or done', async () => {
  const p = project();
  const cli = p.start(['asks-twice', '--json'], { GCP_TASKS_PROMPT_TTY: '1' });
  await cli.waitFor('First? [y/N]');
  cli.child.kill('SIGINT');
  const r = await cli.ended;
  assert.is(r.code, 130, r.stderr);
  assert.not.match(r.stderr, 'Second?');
  assert.is(JSON.parse(r.stdout).tasks[0].status, 'interrupted');
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('an answer typed before the question is shown is discarded; only answers given after it count', async () => {
  const p = project();
  const cli = p.start(['asks-twice'], { GCP_TASKS_PROMPT_TTY: '1' });
  cli.type('y\ny\n'); // typed ahead, while the config loads
  await cli.waitFor('First? [y/N]');
  cli.type('n\n');
  await cli.waitFor('Second? [y/N]');
  cli.type('y\n');
  cli.child.stdin!.end();
  const r = await cli.ended;
  assert.is(r.code, 0, r.stderr);
  assert.equal(p.ran(), ['first-no', 'second-yes']);
  p.cleanup();
});

test.run();
