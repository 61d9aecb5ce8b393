// Input a careful user or an attacker may give, through the real CLI: task arguments named like
// Object.prototype members, --json with a usage error, an empty --config, thrown values that are not Errors,
// a failing command. Each gives one readable message, the right exit code, and no stack line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject } from '../helpers/cli.js';

const STACK_LINE = /^\s*at .+(:\d+:\d+\)?|\(native\))$/m;

for (const arg of ['--constructor', '--toString=1', '--hasOwnProperty', '--bogus']) {
  test(`task argument ${arg} is unknown (own-property check), exit 2`, async () => {
    const p = fixtureProject();
    const r = await p.cli(['rollback:app', '--', arg]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, `Error: Unknown argument ${arg.split('=')[0]} for rollback:app.`);
    assert.equal(p.ran(), []);
    p.cleanup();
  });
}

for (const args of [['lint', '--json', '--bogus'], ['lint', '--json', '--env=staging'], ['--json'], ['lint', '--json', '--config=']]) {
  test(`a usage error with --json prints the JSON error object: ${args.join(' ')}`, async () => {
    const p = fixtureProject();
    const r = await p.cli(args);
    assert.is(r.code, 2, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal([json.ok, json.exitCode], [false, 2]);
    assert.type(json.error, 'string');
    assert.ok(json.error.length > 0);
    p.cleanup();
  });
}

test('--json after `--` is a task argument, not the output format', async () => {
  const p = fixtureProject();
  const r = await p.cli(['lint', '--bogus', '--', '--json']);
  assert.is(r.code, 2);
  assert.is(r.stdout, '');
  p.cleanup();
});

for (const flag of ['--config=', '--config= ']) {
  test(`an empty config file name ("${flag}") is a usage error`, async () => {
    const p = fixtureProject();
    const r = await p.cli(['lint', flag]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, 'Error: --config needs a file name (got an empty value).');
    assert.not.match(r.stderr, 'Directory import');
    p.cleanup();
  });
}

test('any thrown value is reported with the task that threw it, and the summary still prints', async () => {
  const p = fixtureProject('safety');
  const r = await p.cli(['throws:null-prototype', 'throws:plain-object', 'throws:bad-message', '-k', '--json']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, '✖ throws:null-prototype: a value that is not an Error was thrown: [Object: null prototype] {}');
  assert.match(r.stderr, '✖ throws:plain-object: a value that is not an Error was thrown: { code: 42 }');
  assert.match(r.stderr, '✖ throws:bad-message: Error without a readable message');
  assert.match(r.stderr, 'Summary (');
  assert.not.match(r.stderr, 'Cannot convert object to primitive value');
  assert.not.match(r.stderr, '[object Object]');
  assert.equal(JSON.parse(r.stdout).counts, { failed: 3 });
  p.cleanup();
});

test('a failing command shows its stderr and exit code, no stack line (unless --verbose)', async () => {
  const p = fixtureProject('safety');
  const r = await p.cli(['fails-command']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /✖ fails-command: disk full\n\s+exit code: 3/);
  assert.not.ok(STACK_LINE.test(r.stderr), r.stderr);
  const verbose = await p.cli(['fails-command', '--verbose']);
  assert.ok(STACK_LINE.test(verbose.stderr), 'the stack is there with --verbose');
  p.cleanup();
});

test.run();
