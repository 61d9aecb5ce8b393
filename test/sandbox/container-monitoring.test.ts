// GKE and Cloud Monitoring through the real gcloud: clusters list / delete (a zonal operation) with a
// cluster seeded through the control endpoint, the 404 path, and alert policies create / list.
import fs from 'node:fs';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('GKE and Monitoring gcloud tests');
let sb: TestSandbox;

test.before(async () => {
  sb = await startTestSandbox();
});
test.after(async () => {
  await sb?.stop();
});


test('clusters list shows a seeded cluster; delete removes it', async () => {
  const seeded = await sb.fetch('/__sandbox/container/clusters', {
    method: 'POST',
    body: JSON.stringify({ project: sb.handle.project, location: 'us-central1-a', name: 'old-cluster', nodeCount: 2 }),
    headers: { 'content-type': 'application/json' },
  });
  assert.is(seeded.status, 200);
  const list = await sb.ok(['container', 'clusters', 'list', '--format=value(name,zone,status,currentNodeCount)']);
  assert.is(list.stdout.trim(), 'old-cluster\tus-central1-a\tRUNNING\t2');
  const deleted = await sb.ok(['container', 'clusters', 'delete', 'old-cluster', '--zone=us-central1-a', '--quiet']);
  assert.match(deleted.stderr, `Deleted [${sb.handle.url}/v1/projects/${sb.handle.project}/zones/us-central1-a/clusters/old-cluster].`);
  assert.is((await sb.ok(['container', 'clusters', 'list', '--format=value(name)'])).stdout.trim(), '');
});

test('deleting a missing cluster fails the way gcloud reports it', async () => {
  const r = await sb.gcloud(['container', 'clusters', 'delete', 'nope', '--zone=us-central1-a', '--quiet']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'ResponseError: code=404');
  assert.match(r.stderr, `No cluster named 'nope' in ${sb.handle.project}.`);
});

test('alpha monitoring policies: create from a file, list', async () => {
  assert.match((await sb.ok(['alpha', 'monitoring', 'policies', 'list'])).stderr, 'Listed 0 items.');
  const file = path.join(sb.dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify({
    displayName: 'High error rate',
    combiner: 'OR',
    conditions: [{ displayName: '5xx > 1%', conditionThreshold: { filter: 'metric.type="run.googleapis.com/request_count"', comparison: 'COMPARISON_GT', thresholdValue: 1, duration: '60s' } }],
  }));
  await sb.ok(['alpha', 'monitoring', 'policies', 'create', `--policy-from-file=${file}`]);
  assert.is((await sb.ok(['alpha', 'monitoring', 'policies', 'list', '--format=value(displayName,enabled)'])).stdout.trim(), 'High error rate\tTrue');
});

test('a policy without conditions is refused with the field named (direct HTTP)', async () => {
  const res = await sb.fetch(`/v3/projects/${sb.handle.project}/alertPolicies`, { method: 'POST', body: JSON.stringify({ displayName: 'x' }), headers: { 'content-type': 'application/json' } });
  assert.is(res.status, 400);
  assert.match((await res.json()).error.message, 'alert_policy.conditions');
});

test.run();
