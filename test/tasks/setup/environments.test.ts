// Development and production in one project never collide: production gets its own resources with its
// own tier, availability and flags (property 7), and a development run that is pointed at a production
// resource refuses to touch it.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { out, setupSandbox, show, summary, type SetupSandbox } from './helpers.js';

const test = gcloudTests('setup/environments tests');

let s: SetupSandbox;

test.before(async () => {
  s = await setupSandbox();
});
test.after(async () => {
  await s?.stop();
});

test('production: its own instance (db-custom-1-3840, REGIONAL, 100 connections) and buckets', async () => {
  const r = await s.task(['sql:create', 'buckets:create', '--env=production', '--json']);
  assert.is(r.code, 0, show(r));
  const prod = s.infra('production');
  assert.is.not(prod.sql.instance, s.infra('development').sql.instance);
  const [i, bucket] = await Promise.all([
    s.json(['sql', 'instances', 'describe', prod.sql.instance]),
    s.json(['storage', 'buckets', 'describe', 'gs://clone-uploads-production', '--raw']),
  ]);
  assert.is(i.databaseVersion, 'POSTGRES_15');
  assert.is(i.settings.tier, 'db-custom-1-3840');
  assert.is(i.settings.availabilityType, 'REGIONAL');
  assert.equal(i.settings.databaseFlags, [{ name: 'max_connections', value: '100' }]);
  assert.is(i.settings.userLabels.environment, 'production');
  assert.is(bucket.labels.environment, 'production');
});

test('development: its own, smaller instance next to it', async () => {
  const r = await s.task(['sql:create', '--json']);
  assert.is(r.code, 0, show(r));
  const i = await s.json(['sql', 'instances', 'describe', s.infra('development').sql.instance]);
  assert.is(i.settings.tier, 'db-f1-micro');
  assert.is(i.settings.availabilityType, 'ZONAL');
  assert.is(i.settings.userLabels.environment, 'development');
});

test('a development run pointed at the production bucket refuses it and leaves it as it is', async () => {
  const before = await s.json(['storage', 'buckets', 'describe', 'gs://clone-uploads-production', '--raw']);
  await s.clearRequests();
  const r = await s.task(['buckets:create', '--json'], { env: { GCS_BUCKET_UPLOADS: 'clone-uploads-production' } });
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === 'buckets:create')!;
  assert.match(failed.error!, /bucket clone-uploads-production belongs to the production environment/);
  assert.match(out(r), /--env=production/);
  const touched = (await s.requests()).filter((q) => q.method !== 'GET' && q.path.includes('clone-uploads-production'));
  assert.equal(touched, []);
  const after = await s.json(['storage', 'buckets', 'describe', 'gs://clone-uploads-production', '--raw']);
  assert.is(after.metageneration, before.metageneration);
});

test.run();
