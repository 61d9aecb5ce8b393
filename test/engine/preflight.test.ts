// Preflight checks run for every planned task before anything else: a refusal is one message with the
// right exit code (2 for bad arguments, 1 for a refused setting), and no task — not even a dependency — runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject } from '../helpers/cli.js';


test('a bad task argument is a usage error before any task runs', async () => {
  const p = fixtureProject('preflight');
  const r = await p.cli(['ship', '--', '--to=Mars Base']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'Error: ship needs --to=<lowercase name>.');
  assert.equal(p.ran(), []);
  const ok = await p.cli(['ship', '--', '--to=moon']);
  assert.is(ok.code, 0, ok.stderr);
  assert.equal(p.ran(), ['prepare', 'ship']);
  p.cleanup();
});

test('a refused setting exits 1 naming the fix; several refusals are reported together', async () => {
  const p = fixtureProject('preflight');
  const one = await p.cli(['publish'], { REGION: 'mars' });
  assert.is(one.code, 1);
  assert.match(one.stderr, 'Error: publish cannot target REGION=mars.');
  assert.match(one.stderr, 'Hint: Pick an earthly region.');
  const both = await p.cli(['publish', 'ship'], { REGION: 'mars' });
  assert.is(both.code, 1);
  assert.match(both.stderr, /2 tasks refuse to start:/);
  assert.match(both.stderr, /\n\s+publish: publish cannot target REGION=mars\./);
  assert.match(both.stderr, /\n\s+ship: ship needs --to/);
  assert.equal(p.ran(), []);
  p.cleanup();
});

test('--dry-run reports a refusal too, without running anything', async () => {
  const p = fixtureProject('preflight');
  const r = await p.cli(['publish', '--dry-run'], { REGION: 'mars' });
  assert.is(r.code, 1);
  assert.equal(p.ran(), []);
  p.cleanup();
});

test.run();
