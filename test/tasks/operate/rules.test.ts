// The pure parts of the ops tasks: lifecycle reading, drift, scope, cost arithmetic and
// formatting, cleanup type choices, cache invalidation targets. No cloud needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { infra as infraConfig } from '../../../tasks.config.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { lifecycleOf, scopeOf, type ServiceDetails, type SqlDetails } from '../../../tasks/operate/discover.js';
import { bucketDrift, roleDrift, serviceDrift, sqlDrift } from '../../../tasks/operate/drift.js';
import { estimateCost, renderCost, sqlMonthly, type CostFacts } from '../../../tasks/operate/cost.js';
import { formatBytes, formatMoney } from '../../../tasks/shared/format.js';
import { parseTypes } from '../../../tasks/operate/cleanup.js';
import { affectedTasks } from '../../../tasks/operate/resource.js';
import { Deadline, probe } from '../../../tasks/shared/query.js';
import { GcloudError } from '../../../lib/gcp/gcloud.js';

const dev = resolveInfra(infraConfig, { env: 'development', project: 'p1', region: 'us-central1', vars: {} });
const prod = resolveInfra(infraConfig, { env: 'production', project: 'p1', region: 'us-central1', vars: {} });

test('lifecycle rules read as (prefix, age) pairs and compared with the config', () => {
  const lifecycle = { rule: [{ action: { type: 'Delete' }, condition: { age: 90, matchesPrefix: ['uploads/'] } }, { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['temp/'] } }] };
  const uploads = dev.buckets.find((b) => b.key === 'uploads')!;
  const read = lifecycleOf(lifecycle);
  assert.equal(read, [{ prefix: 'temp/', ageDays: 30 }, { prefix: 'uploads/', ageDays: 90 }]);
  const details = { location: 'us-central1', sizeBytes: 0, objects: 0, sizeNote: null, lifecycle: read };
  assert.equal(bucketDrift(uploads, details), []);
  const drifted = bucketDrift(uploads, { ...details, lifecycle: [{ prefix: 'temp/', ageDays: 7 }] });
  assert.is(drifted.length, 1);
  assert.match(drifted[0], /temp\/ after 7 d.*config: temp\/ after 30 d, uploads\/ after 90 d/);
  assert.match(bucketDrift(uploads, { ...details, lifecycle: [] })[0], /lifecycle deletes none/);
});

const sqlOk = (over: Partial<SqlDetails> = {}): SqlDetails => ({
  state: 'RUNNABLE', activationPolicy: 'ALWAYS', tier: 'db-f1-micro', databaseVersion: 'POSTGRES_15', availabilityType: 'ZONAL',
  connectionName: 'p1:us-central1:digitwinlive-db-dev', diskGb: 10, diskType: 'PD_SSD', autoResize: true, backupStartTime: '03:00',
  maxConnections: 50, databases: null, ...over,
});

test('Cloud SQL drift names the setting, the actual and the configured value', () => {
  assert.equal(sqlDrift(dev.sql, sqlOk()), []);
  assert.equal(sqlDrift(dev.sql, sqlOk({ tier: 'db-g1-small', maxConnections: 100 })), ['tier db-g1-small (config: db-f1-micro)', 'max_connections 100 (config: 50)']);
  // A stopped instance is not drift: sql:stop did that on purpose.
  assert.equal(sqlDrift(dev.sql, sqlOk({ activationPolicy: 'NEVER' })), []);
});

test('role drift: missing and extra roles of the service account', () => {
  const member = `serviceAccount:${dev.serviceAccount.email}`;
  const policy = { bindings: [...dev.serviceAccount.roles.slice(1).map((role) => ({ role, members: [member] })), { role: 'roles/owner', members: [member] }] };
  assert.equal(roleDrift(dev.serviceAccount, policy), { missing: [dev.serviceAccount.roles[0]], extra: ['roles/owner'] });
  assert.equal(roleDrift(dev.serviceAccount, null).missing, dev.serviceAccount.roles);
});

test('service drift: limits, scaling, identity, env vars and secrets', () => {
  const svc = dev.services.find((s) => s.key === 'api-gateway')!;
  const expectedEnv = ['NODE_ENV', 'GCP_PROJECT_ID'];
  const deployed: ServiceDetails = {
    url: 'https://x', ready: true, readyMessage: null, revision: 'r1', traffic: [{ revision: 'r1', percent: 100 }],
    minInstances: 0, maxInstances: 10, cpu: '1000m', memory: '512Mi', timeoutSeconds: 300, serviceAccount: dev.serviceAccount.email,
    env: ['NODE_ENV', 'GCP_PROJECT_ID', 'WEBSOCKET_URL'],
    secretEnv: Object.fromEntries(dev.secrets.map((s) => [s.envVar, s.name])),
  };
  assert.equal(serviceDrift(dev, svc, deployed, expectedEnv), [], 'cpu 1000m = 1; other services\' URLs are known');
  const drifted = serviceDrift(dev, svc, { ...deployed, memory: '1Gi', maxInstances: 3, env: ['GCP_PROJECT_ID', 'DEBUG_HACK'], secretEnv: {} }, expectedEnv);
  assert.equal(drifted, [
    'memory 1Gi (config: 512Mi)',
    'max instances 3 (config: 10)',
    'env vars missing: NODE_ENV',
    'env vars not in config: DEBUG_HACK',
    `secrets not mounted: ${dev.secrets.map((s) => `${s.envVar}←${s.name}`).join(', ')}`,
  ]);
});

test('scope: labels of this environment, config names, the other environment, foreign', () => {
  const ours = { app: 'digitwinlive', 'managed-by': 'gcp-tasks' };
  assert.is(scopeOf(dev, { ...ours, environment: 'development' }, false), 'managed');
  assert.is(scopeOf(dev, { ...ours, environment: 'development' }, true), 'managed');
  assert.is(scopeOf(dev, { ...ours, environment: 'production' }, false), 'other-environment');
  assert.is(scopeOf(dev, {}, true), 'unlabelled', 'a name in the config never makes a resource the tool\'s');
  assert.is(scopeOf(dev, ours, true), 'unlabelled', 'managed-by without the environment label');
  assert.is(scopeOf(dev, { team: 'data' }, true), 'unlabelled');
  assert.is(scopeOf(dev, { environment: 'production' }, true), 'other-environment');
  assert.is(scopeOf(dev, {}, false), 'foreign');
  assert.is(scopeOf(dev, { 'managed-by': 'terraform' }, false), 'foreign');
});

test('money and sizes are formatted, never garbled', () => {
  assert.is(formatMoney(1234.5, 'USD'), '$1,234.50');
  assert.is(formatMoney(0.004, 'USD'), '$0.00');
  assert.is(formatMoney(7.67, 'EUR'), '€7.67');
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(1536), '1.50 KiB');
  assert.is(formatBytes(5 * 1024 ** 3), '5.00 GiB');
});

const facts = (over: Partial<CostFacts> = {}): CostFacts => ({
  sql: { name: 'digitwinlive-db-dev', exists: true, tier: 'db-f1-micro', activationPolicy: 'ALWAYS', availabilityType: 'ZONAL', diskGb: 10, diskType: 'PD_SSD' },
  bucketBytes: 2 * 1024 ** 3,
  buckets: 4,
  registryBytes: 1024 ** 3,
  secretVersions: 3,
  services: dev.services.map((s) => ({ name: s.name, minInstances: 0 })),
  ...over,
});

test('cost: tier by activation policy, REGIONAL multiplier, storage from sizes, total', () => {
  const p = dev.prices;
  const r = estimateCost('p1', p, facts());
  const expected = p.sqlTierMonthly['db-f1-micro'] + 10 * p.sqlStorageGbMonthSsd + 2 * p.storageGbMonth + 1 * p.registryGbMonth + 3 * p.secretVersionMonth;
  assert.ok(Math.abs(r.total - expected) < 1e-9, `${r.total} vs ${expected}`);
  assert.equal(r.incomplete, []);
  const stopped = estimateCost('p1', p, facts({ sql: { ...facts().sql!, activationPolicy: 'NEVER' } }));
  assert.ok(Math.abs(r.total - stopped.total - p.sqlTierMonthly['db-f1-micro']) < 1e-9, 'stopped = storage only');
  const regional = sqlMonthly(p, { tier: 'db-custom-1-3840', availabilityType: 'REGIONAL', diskGb: 10, diskType: 'PD_SSD' }, true);
  assert.is(regional.instance, p.sqlTierMonthly['db-custom-1-3840'] * p.sqlRegionalMultiplier);
  assert.is(sqlMonthly(p, { tier: 'db-custom-8-30720', availabilityType: 'ZONAL', diskGb: 10, diskType: 'PD_SSD' }, true).instance, null);
  const unknown = estimateCost('p1', p, facts({ sql: { ...facts().sql!, tier: 'db-custom-8-30720' }, bucketBytes: null }));
  assert.is(unknown.incomplete.length, 2, 'unknown tier and unanswered size are named, not counted as 0');
  const text = renderCost(r);
  assert.match(text, `Total`);
  assert.match(text, formatMoney(expected, 'USD'));
  assert.match(text, p.takenOn);
  assert.match(text, /pgvector.*\$25\.00\/month saved/);
  assert.match(text, /min instances 0/);
  assert.match(text, 'https://console.cloud.google.com/billing/linkedaccount?project=p1');
  assert.match(text, 'https://console.cloud.google.com/billing/budgets');
  assert.not.match(text, /\$\$|\$[^0-9]|NaN|undefined/);
});

test('cleanup type choices: menu numbers or names; unknown input is refused', () => {
  const offered = ['service', 'sql', 'bucket'] as const;
  assert.equal(parseTypes('1,3', [...offered]), ['service', 'bucket']);
  assert.equal(parseTypes('buckets, run', [...offered]), ['service', 'bucket']);
  assert.equal(parseTypes('', [...offered]), []);
  assert.throws(() => parseTypes('4', [...offered]), /not one of the choices/);
  assert.throws(() => parseTypes('everything', [...offered]), /not one of the choices/);
});

test('deleting a resource invalidates exactly the tasks that claim it exists', () => {
  assert.equal(affectedTasks(dev, { type: 'bucket', name: dev.buckets[0].name }), ['buckets:create']);
  assert.equal(affectedTasks(dev, { type: 'service', name: 'api-gateway-dev' }), ['deploy:api-gateway']);
  assert.equal(affectedTasks(prod, { type: 'service', name: 'api-gateway' }), ['deploy:api-gateway']);
  assert.equal(affectedTasks(dev, { type: 'service', name: 'someone-else' }), []);
  assert.ok(affectedTasks(dev, { type: 'secret', name: dev.sql.passwordSecret }).includes('sql:create'));
  assert.ok(affectedTasks(dev, { type: 'sql', name: dev.sql.instance }).includes('sql:create'));
});

test('probe: a query that outlives its deadline is "timed out", not "missing"; not-found is missing', async () => {
  const started = Date.now();
  const slow = await probe(new Deadline(50, 1000), () => new Promise<string>((r) => setTimeout(() => r('late'), 2000)));
  assert.is(slow.state, 'timed-out');
  assert.ok(Date.now() - started < 1500);
  assert.equal(await probe(new Deadline(1000, 1000), async () => null), { state: 'missing' });
  const notFound = new GcloudError('gone', 'not-found', 'gcloud x', 1, '');
  assert.equal(await probe(new Deadline(1000, 1000), async () => Promise.reject(notFound)), { state: 'missing' });
  const killed = new GcloudError('no answer', 'timeout', 'gcloud x', null, '');
  assert.is((await probe(new Deadline(1000, 1000), async () => Promise.reject(killed))).state, 'timed-out');
  const denied = await probe(new Deadline(1000, 1000), async () => Promise.reject(new GcloudError('PERMISSION_DENIED: no', 'permission', 'gcloud x', 1, '')));
  assert.equal(denied, { state: 'error', message: 'PERMISSION_DENIED: no' });
  assert.equal(await probe(new Deadline(1000, 0), async () => 'x'), { state: 'timed-out', afterMs: 0 }, 'no budget left: not started');
});

test.run();
