// Cloud Storage through the real gcloud: buckets (create with location/uniform access/labels, describe,
// update lifecycle and labels, list, IAM binding, delete), objects (multipart and resumable uploads with the
// hashes gcloud checks, cat, du -s, rm -r) and the errors (404, 409 exists / not empty, 400 invalid, 403).
import fs from 'node:fs';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('Cloud Storage gcloud tests');
let sb: TestSandbox;
const B = 'gt-uploads-dev';

test.before(async () => {
  sb = await startTestSandbox();
});
test.after(async () => {
  await sb?.stop();
});


test('buckets create with location, uniform access and labels; describe shows them', async () => {
  await sb.ok(['storage', 'buckets', 'create', `gs://${B}`, '--location=us-central1', '--uniform-bucket-level-access', '--default-storage-class=STANDARD']);
  await sb.ok(['storage', 'buckets', 'update', `gs://${B}`, '--update-labels=app=digitwin,env=dev']);
  const d = JSON.parse((await sb.ok(['storage', 'buckets', 'describe', `gs://${B}`, '--format=json'])).stdout);
  assert.is(d.name, B);
  assert.is(d.location, 'US-CENTRAL1');
  assert.is(d.location_type, 'region');
  assert.is(d.uniform_bucket_level_access, true);
  assert.equal(d.labels, { app: 'digitwin', env: 'dev' });
});

test('buckets update --lifecycle-file and list', async () => {
  const file = path.join(sb.dir, 'lifecycle.json');
  const rules = { rule: [{ action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['temp/'] } }] };
  fs.writeFileSync(file, JSON.stringify(rules));
  await sb.ok(['storage', 'buckets', 'update', `gs://${B}`, `--lifecycle-file=${file}`]);
  const raw = JSON.parse((await sb.ok(['storage', 'buckets', 'describe', `gs://${B}`, '--raw', '--format=json'])).stdout);
  assert.equal(raw.lifecycle, rules);
  assert.is(raw.metageneration, '3');
  const list = await sb.ok(['storage', 'buckets', 'list', '--format=value(name,location)']);
  assert.match(list.stdout, `${B}\tUS-CENTRAL1`);
});

test('cp small (multipart) and large (resumable) files, cat, du -s', async () => {
  const small = path.join(sb.dir, 'a.txt');
  fs.writeFileSync(small, 'hello sandbox\n');
  const big = path.join(sb.dir, 'big.bin');
  fs.writeFileSync(big, Buffer.alloc(9 * 1024 * 1024, 7)); // > 8 MiB: gcloud switches to a resumable upload
  await sb.ok(['storage', 'cp', small, `gs://${B}/dir/a.txt`]);
  await sb.ok(['storage', 'cp', big, `gs://${B}/big.bin`]);
  const log = await sb.requests();
  assert.ok(log.some((r) => r.method === 'POST' && r.path === `/upload/storage/v1/b/${B}/o`), 'multipart upload');
  assert.ok(log.some((r) => r.method === 'PUT' && r.path.endsWith(`/b/${B}/o`) && r.status === 200), 'resumable upload completed');
  assert.is((await sb.ok(['storage', 'cat', `gs://${B}/dir/a.txt`])).stdout, 'hello sandbox\n');
  const du = await sb.ok(['storage', 'du', '-s', `gs://${B}`]);
  assert.match(du.stdout, new RegExp(`^${9 * 1024 * 1024 + 14}\\s+gs://${B}`));
});

test('bucket IAM: add-iam-policy-binding and get-iam-policy', async () => {
  await sb.ok(['storage', 'buckets', 'add-iam-policy-binding', `gs://${B}`, '--member=allUsers', '--role=roles/storage.objectViewer']);
  const policy = JSON.parse((await sb.ok(['storage', 'buckets', 'get-iam-policy', `gs://${B}`, '--format=json'])).stdout);
  assert.ok(policy.bindings.some((b: any) => b.role === 'roles/storage.objectViewer' && b.members.includes('allUsers')));
});

test('errors: not empty (409), exists (409), not found (404), invalid name and location (400), injected 403', async () => {
  const notEmpty = await sb.gcloud(['storage', 'buckets', 'delete', `gs://${B}`]);
  assert.is(notEmpty.code, 1);
  assert.match(notEmpty.stderr, 'Bucket is not empty. To delete all objects and then delete bucket, use: gcloud storage rm -r');
  const exists = await sb.gcloud(['storage', 'buckets', 'create', `gs://${B}`, '--location=us-central1']);
  assert.is(exists.code, 1);
  assert.match(exists.stderr, /HTTPError 409: Your previous request to create the named bucket succeeded and you already own it/);
  const missing = await sb.gcloud(['storage', 'buckets', 'describe', 'gs://gt-no-such-bucket']);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, 'gs://gt-no-such-bucket not found: 404.');
  const badLocation = await sb.gcloud(['storage', 'buckets', 'create', 'gs://gt-bad-location', '--location=moon-central1']);
  assert.is(badLocation.code, 1);
  assert.match(badLocation.stderr, "Invalid value for location: 'moon-central1'");
  const badName = await sb.gcloud(['storage', 'buckets', 'create', 'gs://Bad_Name']);
  assert.is(badName.code, 1);
  assert.match(badName.stderr, /HTTPError 400: Invalid bucket name: 'Bad_Name'/);
  await sb.setFaults({ errors: [{ method: 'GET', path: `/storage/v1/b/${B}`, status: 403, message: 'injected 403' }] });
  const denied = await sb.gcloud(['storage', 'buckets', 'describe', `gs://${B}`]);
  await sb.setFaults({});
  assert.is(denied.code, 1);
  assert.match(denied.stderr, `does not have permission to access b instance [${B}]`);
});

test('objects: ifGenerationMatch=0 on an existing object is 412; list with prefix/delimiter pages (direct HTTP)', async () => {
  const clobber = await sb.fetch(`/upload/storage/v1/b/${B}/o?uploadType=media&name=dir%2Fa.txt&ifGenerationMatch=0`, { method: 'POST', body: 'x' });
  assert.is(clobber.status, 412);
  const top = await (await sb.fetch(`/storage/v1/b/${B}/o?delimiter=/&maxResults=1`)).json();
  assert.is(top.items.length + (top.prefixes?.length ?? 0), 1);
  assert.ok(top.nextPageToken);
  const rest = await (await sb.fetch(`/storage/v1/b/${B}/o?delimiter=/&maxResults=1&pageToken=${top.nextPageToken}`)).json();
  assert.equal([...(top.items ?? []), ...(rest.items ?? [])].map((o: any) => o.name), ['big.bin']);
  assert.equal([...(top.prefixes ?? []), ...(rest.prefixes ?? [])], ['dir/']);
});

test('rm -r removes the objects and the bucket', async () => {
  await sb.ok(['storage', 'rm', '-r', `gs://${B}`]);
  const gone = await sb.gcloud(['storage', 'buckets', 'describe', `gs://${B}`]);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'not found: 404');
  assert.equal(fs.readdirSync(path.join(sb.dir, 'blobs', 'storage')), [], 'object files deleted');
});

test.run();
