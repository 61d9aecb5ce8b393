// Cleanup's discovery never counts the shared state bucket as this environment's, even when it carries this
// environment's labels or a configured bucket's name: every environment's records and lock live in it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { discoverBuckets } from '../../../tasks/operate/discover.js';
import { Deadline } from '../../../tasks/shared/query.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import type { RestReader } from '../../../lib/gcp/rest.js';
import { infra as infraConfig } from '../../../tasks.config.js';

const infra = resolveInfra(infraConfig, { env: 'development', project: 'p', region: 'us-central1', vars: {} });
const owned = { app: infra.app, 'managed-by': infra.managedBy, environment: 'development' };

/** The bucket list Cloud Storage would answer; object lists (sizes) are empty. */
function reader(buckets: { name: string; labels: Record<string, string> }[]): RestReader {
  return {
    get: async () => null,
    text: async () => null,
    list: async (_api, relPath, _key, schema: z.ZodType) => (relPath === 'b' ? buckets.map((b) => schema.parse({ ...b, location: 'US-CENTRAL1' })) : []),
  } as RestReader;
}

test('the state bucket is never "managed" by an environment; an ordinary labelled bucket is', async () => {
  const configured = infra.buckets[0]!.name;
  const found = await discoverBuckets(
    { rest: reader([{ name: 'team-state', labels: { ...owned, purpose: 'task-state' } }, { name: configured, labels: { ...owned, purpose: 'task-state' } }, { name: 'ordinary', labels: owned }]), infra, project: 'p', region: 'us-central1' },
    new Deadline(5000, 5000),
  );
  assert.is(found.state, 'ok');
  const scopes = Object.fromEntries((found.state === 'ok' ? found.value : []).map((b) => [b.name, b.scope]));
  assert.equal(scopes, { 'team-state': 'foreign', [configured]: 'foreign', ordinary: 'managed' });
});

test.run();
