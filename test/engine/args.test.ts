// Command-line parsing: every accepted form, and every mistake as a usage error (exit 2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../lib/engine/errors.js';
import { parseArgs, parseTaskArgs } from '../../lib/engine/args.js';

test('targets, long and short flags, values with = or as the next word', () => {
  const o = parseArgs(['deploy:all', '--env', 'production', '-j4', '-ky', '--config=other.ts', 'status', '--lock-timeout', '30']);
  assert.equal(o.targets, ['deploy:all', 'status']);
  assert.is(o.env, 'production');
  assert.is(o.concurrency, 4);
  assert.is(o.continueOnError, true);
  assert.is(o.yes, true);
  assert.is(o.config, 'other.ts');
  assert.is(o.lockTimeoutMs, 30_000);
  assert.is(parseArgs(['-j', '8']).concurrency, 8);
  assert.is(parseArgs(['--dry']).dryRun, true);
});

test('--graph alone is mermaid; --graph dot and --graph=dot are dot', () => {
  assert.is(parseArgs(['--graph']).graph, 'mermaid');
  assert.is(parseArgs(['--graph', 'dot']).graph, 'dot');
  assert.is(parseArgs(['--graph=dot', 'a']).graph, 'dot');
  assert.equal(parseArgs(['--graph', 'a']).targets, ['a']);
});

test('everything after -- is task arguments: --name=value and --flag', () => {
  const o = parseArgs(['rollback:api', '--', '--to=api-00003-abc', '--dry-run', '--note=a=b c']);
  assert.equal(o.targets, ['rollback:api']);
  assert.is(o.dryRun, false, 'a task argument is not a CLI flag');
  assert.equal(o.taskArgs, { to: 'api-00003-abc', 'dry-run': true, note: 'a=b c' });
});

test('mistakes are usage errors with the fix', () => {
  const cases: [string[], RegExp][] = [
    [['--forse'], /Unknown flag --forse\. Did you mean --force\?/],
    [['-jx'], /-j takes a value/],
    [['-kz'], /Unknown flag -kz/],
    [['-j', '0'], /at least 1/],
    [['--env', 'staging'], /development or production/],
    [['--yes=no'], /takes no value/],
    [['--config'], /--config needs a value/],
    [['--lock-timeout', 'soon'], /number of seconds/],
    [['--graph=svg'], /mermaid or dot/],
  ];
  for (const [argv, message] of cases) {
    try {
      parseArgs(argv);
      assert.unreachable(`${argv.join(' ')} should fail`);
    } catch (error) {
      assert.instance(error, UsageError, argv.join(' '));
      assert.match((error as Error).message, message);
    }
  }
  assert.throws(() => parseTaskArgs(['positional']), (e: Error) => e instanceof UsageError && /--name=value/.test(e.message));
  assert.throws(() => parseTaskArgs(['-x']), (e: Error) => e instanceof UsageError);
});

test.run();
