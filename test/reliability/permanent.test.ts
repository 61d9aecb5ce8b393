// A permanent 403 on one resource fails exactly the tasks that need it, with a message naming the task,
// the resource, gcloud's error and the fix; with --continue every other task completes.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { falseRecords, sandboxProject, statusesOf } from './helpers.js';

const test = gcloudTests('permanent faults');

test('403 on one secret: secrets:create and everything that needs it fail; face-processing still deploys', async () => {
  const p = await sandboxProject({ env: 'production' });
  try {
    const denied = 'refresh-secret';
    await p.sandbox.setFaults({ errors: [{ path: `/secrets/${denied}`, status: 403, message: `Permission 'secretmanager.secrets.get' denied on resource '${denied}' (injected)` }] });
    const r = await p.cli(['deploy:all', '--continue', '--json']);
    assert.is(r.code, 1);
    assert.ok((await p.sandbox.requests()).some((q) => q.injected && q.status === 403 && q.path.includes(`/secrets/${denied}`)), 'the 403 was injected');
    const statuses = statusesOf(r);
    assert.is(statuses['secrets:create'], 'failed');
    // What needs the secrets cannot run …
    for (const t of ['sql:create', 'deploy:api-gateway', 'deploy:websocket-server', 'deploy:all']) assert.is(statuses[t], 'skipped-dep-failed', t);
    // … everything else completes.
    for (const t of ['apis:enable', 'registry:create', 'buckets:create', 'iam:create', 'build:api-gateway', 'build:websocket-server', 'build:face-processing-service', 'deploy:face-processing-service']) {
      assert.is(statuses[t], 'ran', t);
    }
    // The message names the task, the resource, gcloud's error and the fix.
    const failure = r.stderr.slice(r.stderr.indexOf('root failure first'));
    assert.match(failure, 'secrets:create');
    assert.match(failure, denied);
    assert.match(failure, /Permission 'secretmanager\.secrets\.get' denied/);
    assert.match(failure, /hint: .*(permission|role|IAM)/i);
    assert.equal(await falseRecords(p), []);

    // Once the permission is granted, the next run does only what is left.
    await p.sandbox.setFaults({});
    const next = await p.cli(['deploy:all', '--json']);
    assert.is(next.code, 0, next.stderr.slice(-2000));
    const after = statusesOf(next);
    assert.is(after['deploy:face-processing-service'], 'cached');
    assert.is(after['secrets:create'], 'ran');
  } finally {
    await p.stop();
  }
});

test.run();
