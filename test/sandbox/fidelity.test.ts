// Where a command could pass in the sandbox and fail on Google: each with raw gcloud and Google's outcome.
// Authentication (401 without a token), projects that do not exist, unknown APIs and roles, a stopped Cloud SQL
// instance, a password change without a password, a deleted instance's reserved name, Cloud Storage's error shape.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('the sandbox fidelity tests');
let sb: TestSandbox;
const INSTANCE = 'fidelity-db';

test.before(async () => {
  process.env.SANDBOX_SQL_NAME_RESERVED_SECONDS = '3600';
  sb = await startTestSandbox();
  await sb.ok(['services', 'enable', 'sqladmin.googleapis.com', 'storage.googleapis.com']);
});
test.after(async () => {
  await sb?.stop();
});

test('an API request without a token the sandbox issued answers 401 UNAUTHENTICATED in Google\'s shape', async () => {
  for (const authorization of [undefined, 'Bearer ya29.made-up']) {
    const res = await sb.fetch(`/v1/projects/${sb.handle.project}/services`, authorization ? { headers: { authorization } } : { headers: { authorization: '' } });
    assert.is(res.status, 401);
    const body = await res.json();
    assert.is(body.error.status, 'UNAUTHENTICATED');
    assert.match(body.error.message, 'Expected OAuth 2 access token');
  }
});

test('a project that is not the sandbox\'s answers 403 "(or it may not exist)"', async () => {
  const describe = await sb.gcloud(['projects', 'describe', 'other-project-xyz']);
  assert.is(describe.code, 1);
  assert.match(describe.stderr, '(or it may not exist)');
  const bucket = await sb.gcloud(['storage', 'buckets', 'create', 'gs://gt-fidelity-elsewhere', '--project=other-project-xyz', '--location=us-central1']);
  assert.is(bucket.code, 1);
  assert.match(bucket.stderr, '(or it may not exist)');
});

test('enabling an API Google does not have and binding a role that does not exist are refused', async () => {
  const api = await sb.gcloud(['services', 'enable', 'notarealapi.googleapis.com']);
  assert.is(api.code, 1);
  assert.match(api.stderr, 'Not found or permission denied for service(s): notarealapi.googleapis.com');
  const role = await sb.gcloud(['projects', 'add-iam-policy-binding', sb.handle.project, '--member=user:alice@example.com', '--role=roles/not.aRole', '--condition=None']);
  assert.is(role.code, 1);
  assert.match(role.stderr, 'Role roles/not.aRole is not supported for this resource.');
});

test('Cloud SQL: set-password without a password is refused (with one it works); a stopped instance lists nothing; a deleted name stays reserved', async () => {
  await sb.ok(['sql', 'instances', 'create', INSTANCE, '--database-version=POSTGRES_15', '--tier=db-f1-micro', '--region=us-central1', '--root-password=first-Password-1']);
  // Prompts disabled: gcloud sends no password at all.
  const none = await sb.gcloud(['sql', 'users', 'set-password', 'postgres', `--instance=${INSTANCE}`, '--prompt-for-password'], { stdin: 'ignored\n' });
  assert.is(none.code, 1);
  assert.match(none.stderr, 'a password is required');
  // As the tool does it: prompts on, the password on stdin.
  const withPassword = await sb.gcloud(['sql', 'users', 'set-password', 'postgres', `--instance=${INSTANCE}`, '--prompt-for-password'], { stdin: 'second-Password-2\n', env: { CLOUDSDK_CORE_DISABLE_PROMPTS: '0' } });
  assert.is(withPassword.code, 0, withPassword.stderr);

  await sb.ok(['sql', 'instances', 'patch', INSTANCE, '--activation-policy=NEVER']);
  for (const list of [['databases', 'list'], ['users', 'list']]) {
    const r = await sb.gcloud(['sql', ...list, `--instance=${INSTANCE}`]);
    assert.is(r.code, 1, list.join(' '));
    assert.match(r.stderr, 'Invalid request since instance is not running.');
  }

  await sb.ok(['sql', 'instances', 'delete', INSTANCE]);
  const again = await sb.gcloud(['sql', 'instances', 'create', INSTANCE, '--database-version=POSTGRES_15', '--tier=db-f1-micro', '--region=us-central1']);
  assert.is(again.code, 1);
  assert.match(again.stderr, "you can't reuse the name of the deleted instance until one week from the deletion date");
});

test('Cloud Storage errors come in its JSON API shape: gcloud prints HTTPError 409 and 412, as against Google', async () => {
  await sb.ok(['storage', 'buckets', 'create', 'gs://gt-fidelity-shape', '--location=us-central1']);
  const again = await sb.gcloud(['storage', 'buckets', 'create', 'gs://gt-fidelity-shape', '--location=us-central1']);
  assert.is.not(again.code, 0);
  assert.match(again.stderr, /HTTPError 409/);
  assert.not.match(again.stderr, /CONFLICT:/);
  const file = path.join(os.tmpdir(), `gt-fidelity-${process.pid}.txt`);
  fs.writeFileSync(file, 'v1');
  try {
    await sb.ok(['storage', 'cp', file, 'gs://gt-fidelity-shape/o.txt']);
    const stale = await sb.gcloud(['storage', 'cp', file, 'gs://gt-fidelity-shape/o.txt', '--if-generation-match=1']);
    assert.is.not(stale.code, 0);
    assert.match(stale.stderr, /412/);
    assert.not.match(stale.stderr, /FAILED_PRECONDITION:/);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test.run();
