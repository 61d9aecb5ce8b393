// IAM and Resource Manager through the real gcloud: service accounts and keys (the key file activates
// against the sandbox's token endpoint), project describe with its number, project IAM policy bindings with
// etag conflicts, and the errors.
import fs from 'node:fs';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('IAM and Resource Manager gcloud tests');
let sb: TestSandbox;
let P: string;
let SA: string;

test.before(async () => {
  sb = await startTestSandbox();
  P = sb.handle.project;
  SA = `digitwinlive-sa@${P}.iam.gserviceaccount.com`;
  const r = await sb.gcloud(['services', 'enable', 'iam.googleapis.com']);
  assert.is(r.code, 0, r.stderr);
});
test.after(async () => {
  await sb?.stop();
});


test('service accounts: create, describe, list; a duplicate is a conflict', async () => {
  const created = await sb.ok(['iam', 'service-accounts', 'create', 'digitwinlive-sa', '--display-name=DigiTwin Live SA']);
  assert.match(created.stderr, 'Created service account [digitwinlive-sa].');
  const d = JSON.parse((await sb.ok(['iam', 'service-accounts', 'describe', SA, '--format=json'])).stdout);
  assert.is(d.email, SA);
  assert.is(d.displayName, 'DigiTwin Live SA');
  assert.is((await sb.ok(['iam', 'service-accounts', 'list', '--format=value(email)'])).stdout.trim(), SA);
  const dup = await sb.gcloud(['iam', 'service-accounts', 'create', 'digitwinlive-sa']);
  assert.is(dup.code, 1);
  assert.match(dup.stderr, `is the subject of a conflict: Service account digitwinlive-sa already exists within project projects/${P}.`);
});

test('keys create writes a key file that activates against the sandbox token endpoint', async () => {
  const file = path.join(sb.dir, 'key.json');
  const r = await sb.ok(['iam', 'service-accounts', 'keys', 'create', file, `--iam-account=${SA}`]);
  assert.match(r.stderr, `as [${file}] for [${SA}]`);
  const key = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.is(key.type, 'service_account');
  assert.is(key.client_email, SA);
  assert.match(key.private_key, 'BEGIN PRIVATE KEY');
  const activated = await sb.ok(['auth', 'activate-service-account', `--key-file=${file}`]);
  assert.match(activated.stderr, `Activated service account credentials for: [${SA}]`);
  const keys = await sb.ok(['iam', 'service-accounts', 'keys', 'list', `--iam-account=${SA}`, '--format=value(name)']);
  assert.match(keys.stdout, key.private_key_id);
});

test('projects describe shows the project number', async () => {
  const d = JSON.parse((await sb.ok(['projects', 'describe', P, '--format=json'])).stdout);
  assert.is(d.projectId, P);
  assert.match(d.projectNumber, /^\d{12}$/);
  assert.is(d.lifecycleState, 'ACTIVE');
});

test('projects add-iam-policy-binding; get-iam-policy shows it', async () => {
  const r = await sb.ok(['projects', 'add-iam-policy-binding', P, `--member=serviceAccount:${SA}`, '--role=roles/cloudsql.client', '--condition=None']);
  assert.match(r.stderr, `Updated IAM policy for project [${P}].`);
  const policy = JSON.parse((await sb.ok(['projects', 'get-iam-policy', P, '--format=json'])).stdout);
  assert.ok(policy.bindings.some((b: any) => b.role === 'roles/cloudsql.client' && b.members.includes(`serviceAccount:${SA}`)));
});

test('setIamPolicy with a stale etag is a conflict; a binding for a missing service account is invalid', async () => {
  const stale = path.join(sb.dir, 'policy.json');
  fs.writeFileSync(stale, JSON.stringify({ bindings: [{ role: 'roles/viewer', members: [`serviceAccount:${SA}`] }], etag: 'BwYAAAAAAAA=', version: 1 }));
  const conflict = await sb.gcloud(['projects', 'set-iam-policy', P, stale]);
  assert.is(conflict.code, 1);
  assert.match(conflict.stderr, 'is the subject of a conflict: There were concurrent policy changes.');
  const missing = await sb.gcloud(['projects', 'add-iam-policy-binding', P, `--member=serviceAccount:ghost-sa@${P}.iam.gserviceaccount.com`, '--role=roles/viewer', '--condition=None']);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, `INVALID_ARGUMENT: Service account ghost-sa@${P}.iam.gserviceaccount.com does not exist.`);
});

test('service accounts: delete, then describe is 404; injected 403 on describe', async () => {
  const r = await sb.ok(['iam', 'service-accounts', 'delete', SA, '--quiet']);
  assert.match(r.stderr, `deleted service account [${SA}]`);
  const gone = await sb.gcloud(['iam', 'service-accounts', 'describe', SA]);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'NOT_FOUND: Unknown service account');
  // As on Google, its bindings stay as `deleted:serviceAccount:…?uid=…` and a new account of the same name
  // does not inherit them.
  const policy = JSON.parse((await sb.ok(['projects', 'get-iam-policy', P, '--format=json'])).stdout) as { bindings: { members: string[] }[] };
  const members = policy.bindings.flatMap((b) => b.members);
  assert.not.ok(members.includes(`serviceAccount:${SA}`));
  assert.ok(members.some((m) => m.startsWith(`deleted:serviceAccount:${SA}?uid=`)), members.join(' '));
  await sb.setFaults({ errors: [{ path: `/v1/projects/${P}`, method: 'GET', status: 403, message: 'injected 403' }] });
  const denied = await sb.gcloud(['projects', 'describe', P]);
  await sb.setFaults({});
  assert.is(denied.code, 1);
  assert.match(denied.stderr, `does not have permission to access projects instance [${P}]`);
});

test.run();
