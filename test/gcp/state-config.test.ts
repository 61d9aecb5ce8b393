// Where shared state lives: GCP_TASKS_STATE over the config's `state`, local when neither is set; a bad URL
// or lease length is one readable error; state:init and state:migrate keep local state for their own run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUCKET_TASKS, configuredState, leaseSeconds, parseStateUrl, stateUrl } from '../../lib/gcp/state-bucket.js';
import { UserError } from '../../lib/engine/errors.js';
import type { ConfigDef } from '../../lib/engine/types.js';
import config from '../../tasks.config.js';

const bare: ConfigDef = { tasks: [] };

test('gs:// URLs: bucket and prefix; anything else is refused with an example', () => {
  assert.equal(parseStateUrl('gs://my-app-state/gcp-tasks/', 'X'), { bucket: 'my-app-state', prefix: 'gcp-tasks' });
  assert.equal(parseStateUrl('gs://my-app-state', 'X'), { bucket: 'my-app-state', prefix: '' });
  assert.is(stateUrl({ bucket: 'b-1', prefix: 'p/q' }), 'gs://b-1/p/q');
  for (const bad of ['my-app-state', 's3://bucket/x', 'gs://UPPER/x', 'gs://a/x']) {
    assert.throws(() => parseStateUrl(bad, 'GCP_TASKS_STATE'), (e: Error) => e instanceof UserError && /GCP_TASKS_STATE must be a Cloud Storage URL/.test(e.message));
  }
});

test('the variable wins over the config; neither means local state', () => {
  const withState: ConfigDef = { ...bare, state: { bucket: 'from-config', prefix: 'team' } };
  assert.is(configuredState(bare, {}), undefined);
  assert.equal(configuredState(withState, {}), { bucket: 'from-config', prefix: 'team' });
  assert.equal(configuredState(withState, { GCP_TASKS_STATE: 'gs://from-env/ci' }), { bucket: 'from-env', prefix: 'ci' });
});

test('lease seconds: default 120, a number of at least 1, else a readable error', () => {
  assert.is(leaseSeconds({}), 120);
  assert.is(leaseSeconds({ GCP_TASKS_LEASE_SECONDS: '2' }), 2);
  assert.throws(() => leaseSeconds({ GCP_TASKS_LEASE_SECONDS: 'soon' }), /GCP_TASKS_LEASE_SECONDS must be a number of seconds/);
});

test('the bucket\'s own tasks exist in the catalogue', () => {
  const names = new Set(config.tasks.map((t) => t.name));
  for (const name of BUCKET_TASKS) assert.ok(names.has(name), name);
});

test.run();
