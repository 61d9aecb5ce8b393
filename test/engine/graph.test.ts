import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError, UserError } from '../../lib/engine/errors.js';
import { assertAcyclic, assertKnown, closure, createGraph, criticalPath, findCycle, suggest, toDot, toMermaid, topoOrder } from '../../lib/engine/graph.js';
import { task } from '../helpers/engine.js';

const gcp = createGraph([
  task('apis:enable'),
  task('registry:create', ['apis:enable']),
  task('buckets:create', ['apis:enable']),
  task('sql:create', ['apis:enable']),
  task('build:api', ['registry:create']),
  task('deploy:api', ['build:api', 'sql:create', 'buckets:create']),
  task('status'),
]);

test('the closure holds the targets and every transitive dep, nothing else', () => {
  assert.equal([...closure(gcp, ['deploy:api'])].sort(), ['apis:enable', 'buckets:create', 'build:api', 'deploy:api', 'registry:create', 'sql:create']);
  assert.equal([...closure(gcp, ['registry:create', 'status'])].sort(), ['apis:enable', 'registry:create', 'status']);
});

test('topological order puts every dep first and keeps declaration order between independent tasks', () => {
  const order = topoOrder(gcp, closure(gcp, ['deploy:api']));
  for (const name of order) {
    for (const dep of gcp.deps(name)) assert.ok(order.indexOf(dep) < order.indexOf(name), `${dep} before ${name}`);
  }
  assert.equal(order, ['apis:enable', 'registry:create', 'buckets:create', 'sql:create', 'build:api', 'deploy:api']);
});

test('topological order of an --only plan ignores deps outside it', () => {
  assert.equal(topoOrder(gcp, new Set(['deploy:api', 'status'])), ['deploy:api', 'status']);
});

test('a cycle is found and printed as a → b → c → a', () => {
  const g = createGraph([task('a', ['b']), task('b', ['c']), task('c', ['a']), task('d')]);
  assert.equal(findCycle(g), ['a', 'b', 'c', 'a']);
  try {
    assertAcyclic(g);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, UserError);
    assert.match((error as Error).message, 'a → b → c → a');
  }
});

test('a self-dependency is a cycle; an acyclic diamond is not', () => {
  assert.equal(findCycle(createGraph([task('x', ['x'])])), ['x', 'x']);
  assert.is(findCycle(gcp), null);
});

test('cycle detection handles a 5,000-deep chain without overflowing the stack', () => {
  const chain = Array.from({ length: 5000 }, (_, i) => task(`t${i}`, i ? [`t${i - 1}`] : []));
  assert.is(findCycle(createGraph(chain)), null);
  chain[0] = task('t0', ['t4999']);
  assert.is(findCycle(createGraph(chain))!.length, 5001);
});

test('unknown names are all reported at once with the closest names, as a usage error', () => {
  try {
    assertKnown(gcp, ['deploy:api', 'buckets:craete', 'stauts', 'zzzzzz']);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, UsageError);
    const message = (error as Error).message;
    assert.match(message, 'Unknown task "buckets:craete". Did you mean "buckets:create"?');
    assert.match(message, 'Unknown task "stauts". Did you mean "status"?');
    assert.match(message, 'Unknown task "zzzzzz".');
    assert.is((error as UsageError).exitCode, 2);
  }
});

test('suggestions rank by closeness and include names containing the typed text', () => {
  assert.equal(suggest('deploy', ['deploy:api', 'deploy:web', 'status']), ['deploy:api', 'deploy:web']);
  assert.equal(suggest('sql:crate', ['sql:create', 'sql:start', 'sql:stop']), ['sql:create']);
  assert.equal(suggest('xyz', ['sql:create']), []);
});

test('the critical path is the longest chain by duration', () => {
  const durations: Record<string, number> = { 'apis:enable': 10, 'registry:create': 5, 'buckets:create': 50, 'sql:create': 30, 'build:api': 20, 'deploy:api': 7 };
  const order = topoOrder(gcp, closure(gcp, ['deploy:api']));
  const path = criticalPath(gcp, order, (n) => durations[n]!);
  assert.equal(path.tasks, ['apis:enable', 'buckets:create', 'deploy:api']);
  assert.is(path.ms, 67);
});

test('mermaid and dot list every node and every edge from dependency to dependent', () => {
  const order = topoOrder(gcp, closure(gcp, ['build:api']));
  const mermaid = toMermaid(gcp, order);
  assert.match(mermaid, /^flowchart LR\n/);
  assert.match(mermaid, 't0["apis:enable"]');
  assert.match(mermaid, 't0 --> t1');
  assert.match(mermaid, 't1 --> t2');
  assert.is(mermaid.split('-->').length - 1, 2);
  const dot = toDot(gcp, order);
  assert.match(dot, /^digraph tasks \{/);
  assert.match(dot, '"apis:enable" -> "registry:create";');
  assert.match(dot, '"registry:create" -> "build:api";');
  assert.not.match(dot, 'sql:create');
});

test.run();
