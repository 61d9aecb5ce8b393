// Secret Manager through the real gcloud: secrets create / describe / list / update labels / delete, versions
// add from stdin / access (latest and numbered, gcloud verifies the CRC32C) / list, IAM binding, and errors.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('Secret Manager gcloud tests');
let sb: TestSandbox;

test.before(async () => {
  sb = await startTestSandbox();
});
test.after(async () => {
  await sb?.stop();
});


test('before the API is enabled, secrets answer SERVICE_DISABLED', async () => {
  const r = await sb.gcloud(['secrets', 'list']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'Secret Manager API has not been used in project');
  await sb.ok(['services', 'enable', 'secretmanager.googleapis.com', 'iam.googleapis.com']);
});

test('create with labels, describe, list, update labels', async () => {
  const created = await sb.ok(['secrets', 'create', 'jwt-secret', '--replication-policy=automatic', '--labels=app=digitwin']);
  assert.match(created.stderr, 'Created secret [jwt-secret].');
  await sb.ok(['secrets', 'update', 'jwt-secret', '--update-labels=env=dev']);
  const d = JSON.parse((await sb.ok(['secrets', 'describe', 'jwt-secret', '--format=json'])).stdout);
  assert.match(d.name, /^projects\/\d{12}\/secrets\/jwt-secret$/);
  assert.equal(d.replication, { automatic: {} });
  assert.equal(d.labels, { app: 'digitwin', env: 'dev' });
  assert.is((await sb.ok(['secrets', 'list', '--format=value(name)'])).stdout.trim(), 'jwt-secret');
});

test('versions add from stdin; access latest and numbered returns the exact bytes', async () => {
  const first = await sb.ok(['secrets', 'versions', 'add', 'jwt-secret', '--data-file=-'], 'first-value');
  assert.match(first.stderr, 'Created version [1] of the secret [jwt-secret].');
  await sb.ok(['secrets', 'versions', 'add', 'jwt-secret', '--data-file=-'], 'second-välue\n');
  assert.is((await sb.ok(['secrets', 'versions', 'access', 'latest', '--secret=jwt-secret'])).stdout, 'second-välue\n');
  assert.is((await sb.ok(['secrets', 'versions', 'access', '1', '--secret=jwt-secret'])).stdout, 'first-value');
  const versions = await sb.ok(['secrets', 'versions', 'list', 'jwt-secret', '--format=value(name,state)']);
  assert.equal(versions.stdout.trim().split('\n'), ['2\tenabled', '1\tenabled']);
});

test('a payload whose CRC32C does not match is refused (direct HTTP)', async () => {
  const res = await sb.fetch(`/v1/projects/${sb.handle.project}/secrets/jwt-secret:addVersion`, {
    method: 'POST',
    body: JSON.stringify({ payload: { data: Buffer.from('x').toString('base64'), dataCrc32c: '12345' } }),
    headers: { 'content-type': 'application/json' },
  });
  assert.is(res.status, 400);
  assert.match((await res.json()).error.message, 'Checksum mismatch');
});

test('add-iam-policy-binding prints the new policy', async () => {
  await sb.ok(['iam', 'service-accounts', 'create', 'digitwinlive-sa']);
  const member = `serviceAccount:digitwinlive-sa@${sb.handle.project}.iam.gserviceaccount.com`;
  const r = await sb.ok(['secrets', 'add-iam-policy-binding', 'jwt-secret', `--member=${member}`, '--role=roles/secretmanager.secretAccessor']);
  assert.match(r.stdout, member);
  assert.match(r.stdout, 'role: roles/secretmanager.secretAccessor');
  assert.match(r.stderr, 'Updated IAM policy for secret [jwt-secret].');
});

test('errors: exists (409), missing secret or version (404), injected 403', async () => {
  const dup = await sb.gcloud(['secrets', 'create', 'jwt-secret', '--replication-policy=automatic']);
  assert.is(dup.code, 1);
  assert.match(dup.stderr, /is the subject of a conflict: Secret \[projects\/\d+\/secrets\/jwt-secret\] already exists\./);
  const missing = await sb.gcloud(['secrets', 'versions', 'access', 'latest', '--secret=nope']);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /NOT_FOUND: Secret \[projects\/\d+\/secrets\/nope\] not found or has no versions\./);
  const noVersion = await sb.gcloud(['secrets', 'versions', 'access', '9', '--secret=jwt-secret']);
  assert.is(noVersion.code, 1);
  assert.match(noVersion.stderr, /NOT_FOUND: Secret Version \[projects\/\d+\/secrets\/jwt-secret\/versions\/9\] not found\./);
  await sb.setFaults({ errors: [{ path: ':access', status: 403, message: 'injected 403' }] });
  const denied = await sb.gcloud(['secrets', 'versions', 'access', 'latest', '--secret=jwt-secret']);
  await sb.setFaults({});
  assert.is(denied.code, 1);
  assert.match(denied.stderr, 'PERMISSION_DENIED: injected 403');
});

test('delete, then describe is 404', async () => {
  assert.match((await sb.ok(['secrets', 'delete', 'jwt-secret', '--quiet'])).stderr, 'Deleted secret [jwt-secret].');
  const gone = await sb.gcloud(['secrets', 'describe', 'jwt-secret']);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'NOT_FOUND');
});

test.run();
