// The CLI end to end, as a subprocess, running tasks: --json, --dry-run, outputs carried, failures, task
// args, --only, --clear-cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject } from '../helpers/cli.js';


test('--json: summary on stdout (per task status, duration, reason, log), UI on stderr', async () => {
  const p = fixtureProject();
  const r = await p.cli(['deploy:app', '--json']);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.is(summary.ok, true);
  assert.equal(summary.tasks.map((t: { name: string; status: string }) => [t.name, t.status]), [
    ['fetch:source', 'ran'],
    ['build:image', 'ran'],
    ['lint', 'ran'],
    ['deploy:app', 'ran'],
  ]);
  const deploy = summary.tasks.find((t: { name: string }) => t.name === 'deploy:app');
  assert.is(deploy.reason, 'never ran');
  assert.ok(typeof deploy.durationMs === 'number');
  assert.match(fs.readFileSync(deploy.log, 'utf8'), 'deployed img@sha256:aaa');
  assert.match(r.stderr, '✔ deploy:app');
  assert.equal(summary.criticalPath.tasks.at(-1), 'deploy:app');
  // The timeline: each task starts after every dependency it waited for has finished.
  const at = Object.fromEntries(summary.tasks.map((t: { name: string; startedAtMs: number; finishedAtMs: number }) => [t.name, t]));
  for (const dep of ['build:image', 'lint']) assert.ok(at[dep].finishedAtMs <= at['deploy:app'].startedAtMs, `${dep} finished before deploy:app started`);
  assert.ok(at['deploy:app'].startedAtMs <= at['deploy:app'].finishedAtMs && at['deploy:app'].finishedAtMs <= summary.wallMs + 1);

  const again = JSON.parse((await p.cli(['deploy:app', '--json'])).stdout);
  assert.equal(again.counts, { cached: 4 });
  p.cleanup();
});

test('--dry-run shows the plan with the reason of each task and runs nothing', async () => {
  const p = fixtureProject();
  const fresh = await p.cli(['deploy:app', '--dry-run']);
  assert.is(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /would run\s+fetch:source — never ran/);
  assert.equal(p.ran(), []);
  assert.not.ok(fs.existsSync(path.join(p.stateDir, 'records')), 'dry-run wrote no state');

  await p.cli(['deploy:app']);
  assert.equal(p.ran(), ['build_image', 'deploy_app', 'fetch_source', 'lint']);

  const envChanged = await p.cli(['deploy:app', '-n'], { BUILD_FLAVOR: 'debug' });
  assert.match(envChanged.stdout, /cached\s+fetch:source — up to date/);
  assert.match(envChanged.stdout, /would run\s+build:image — env BUILD_FLAVOR changed/);
  assert.match(envChanged.stdout, /would run\s+deploy:app — dependency build:image will run first/);

  const forced = await p.cli(['lint', '-n', '-f']);
  assert.match(forced.stdout, /would run\s+lint — forced/);
  const json = JSON.parse((await p.cli(['deploy:app', '-n', '--json'], { DIGEST: 'sha256:bbb' })).stdout);
  assert.equal(json.tasks.map((t: { name: string; status: string; reason: string }) => [t.name, t.status, t.reason])[0], ['fetch:source', 'cached', 'up to date']);
  assert.equal(p.ran(), ['build_image', 'deploy_app', 'fetch_source', 'lint'], 'the dry runs ran nothing');
  p.cleanup();
});

test("a dependency's new output reruns its dependents; the same output does not", async () => {
  const p = fixtureProject();
  await p.cli(['deploy:app']);
  const same = JSON.parse((await p.cli(['deploy:app', '--json', '--force-all'])).stdout);
  assert.equal(same.tasks.map((t: { status: string }) => t.status), ['ran', 'ran', 'ran', 'ran']);
  const newDigest = JSON.parse((await p.cli(['deploy:app', '--json', '-f'], { DIGEST: 'sha256:new' })).stdout);
  // -f forces only deploy:app; fetch:source is cached (its record says sha256:aaa), so nothing else changes.
  assert.equal(newDigest.tasks.map((t: { name: string; status: string }) => [t.name, t.status]), [
    ['fetch:source', 'cached'],
    ['build:image', 'cached'],
    ['lint', 'cached'],
    ['deploy:app', 'ran'],
  ]);
  const rebuilt = JSON.parse((await p.cli(['build:image', 'deploy:app', '--json', '--force-all'], { DIGEST: 'sha256:new' })).stdout);
  assert.is(rebuilt.tasks.find((t: { name: string }) => t.name === 'build:image').status, 'ran');
  const after = JSON.parse((await p.cli(['deploy:app', '--json'], { DIGEST: 'sha256:new' })).stdout);
  assert.equal(after.counts, { cached: 4 });
  p.cleanup();
});

test('a failure: exit 1, independent running work finishes, dependents skipped, root failure with hint and log', async () => {
  const p = fixtureProject();
  const r = await p.cli(['deploy:app', '--json'], { FAIL_TASK: 'lint' });
  assert.is(r.code, 1);
  const summary = JSON.parse(r.stdout);
  const status = Object.fromEntries(summary.tasks.map((t: { name: string; status: string }) => [t.name, t.status]));
  assert.is(status.lint, 'failed');
  assert.is(status['deploy:app'], 'skipped-dep-failed');
  assert.match(r.stderr, 'Failed (1), root failure first:');
  assert.match(r.stderr, '✖ lint: lint found 3 problems');
  assert.match(r.stderr, 'hint: run the linter locally');
  assert.match(r.stderr, /log: .*lint\.log/);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
  assert.not.ok(p.ran().includes('deploy_app'));
  p.cleanup();
});

test('task args after -- reach the named task; unknown args and args for arg-less tasks are usage errors', async () => {
  const p = fixtureProject();
  const ok = await p.cli(['rollback:app', '--json', '--', '--to=app-00003-abc']);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, 'rolling back to app-00003-abc');
  const unknown = await p.cli(['rollback:app', '--', '--from=x']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, 'Unknown argument --from for rollback:app');
  assert.match(unknown.stderr, '--to');
  const none = await p.cli(['lint', '--', '--to=x']);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'lint takes no arguments');
  const malformed = await p.cli(['rollback:app', '--', 'x']);
  assert.is(malformed.code, 2);
  p.cleanup();
});

test('--only runs the named task alone with recorded dep outputs, or refuses clearly', async () => {
  const p = fixtureProject();
  const refused = await p.cli(['deploy:app', '--only']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, '--only needs the recorded outputs of "build:image", "lint"');
  await p.cli(['deploy:app']);
  const only = JSON.parse((await p.cli(['deploy:app', '--only', '-f', '--json'])).stdout);
  assert.equal(only.tasks.map((t: { name: string }) => t.name), ['deploy:app']);
  p.cleanup();
});

test('--clear-cache makes tasks run again', async () => {
  const p = fixtureProject();
  await p.cli(['fetch:source', 'lint']);
  const cleared = await p.cli(['--clear-cache', 'lint']);
  assert.is(cleared.code, 0);
  assert.match(cleared.stderr, 'Cleared 1 record');
  const r = JSON.parse((await p.cli(['fetch:source', 'lint', '--json'])).stdout);
  assert.equal(r.tasks.map((t: { status: string }) => t.status), ['cached', 'ran']);
  p.cleanup();
});

test.run();
