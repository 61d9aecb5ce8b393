// Service Usage through the real gcloud: enable several / one, list --enabled, disable, and the errors
// (unknown service, injected 403, an API used before it is enabled → SERVICE_DISABLED).
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('Service Usage gcloud tests');
let sb: TestSandbox;

test.before(async () => {
  sb = await startTestSandbox();
});
test.after(async () => {
  await sb?.stop();
});

const enabled = async () => {
  const r = await sb.gcloud(['services', 'list', '--enabled', '--format=value(config.name)']);
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n');
};

test('services enable (several, then one) and list --enabled', async () => {
  const batch = await sb.gcloud(['services', 'enable', 'compute.googleapis.com', 'sqladmin.googleapis.com', 'run.googleapis.com']);
  assert.is(batch.code, 0, batch.stderr);
  const one = await sb.gcloud(['services', 'enable', 'secretmanager.googleapis.com']);
  assert.is(one.code, 0, one.stderr);
  const names = await enabled();
  for (const api of ['compute.googleapis.com', 'sqladmin.googleapis.com', 'run.googleapis.com', 'secretmanager.googleapis.com', 'storage.googleapis.com']) {
    assert.ok(names.includes(api), `${api} in ${names}`);
  }
  assert.not.ok(names.includes('container.googleapis.com'), 'not enabled, not listed');
});

test('services disable removes it from the enabled list', async () => {
  const r = await sb.gcloud(['services', 'disable', 'compute.googleapis.com']);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok((await enabled()).includes('compute.googleapis.com'));
});

test('list pages with nextPageToken (direct HTTP)', async () => {
  const first = await (await sb.fetch(`/v1/projects/${sb.handle.project}/services?filter=state:ENABLED&pageSize=2`)).json();
  assert.is(first.services.length, 2);
  assert.ok(first.nextPageToken);
  const second = await (await sb.fetch(`/v1/projects/${sb.handle.project}/services?filter=state:ENABLED&pageSize=2&pageToken=${first.nextPageToken}`)).json();
  assert.not.equal(second.services[0].config.name, first.services[0].config.name);
});

test('an unknown service is refused like Google does', async () => {
  const r = await sb.gcloud(['services', 'enable', 'not a service']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'Not found or permission denied for service(s): not a service');
});

test('an API that is not enabled answers 403 SERVICE_DISABLED to its clients', async () => {
  const r = await sb.gcloud(['artifacts', 'repositories', 'list', '--location=us-central1']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'Artifact Registry API has not been used in project');
  assert.match(r.stderr, 'artifactregistry.googleapis.com/overview?project=');
});

test('an injected 403 is printed as gcloud prints Google permission errors', async () => {
  await sb.setFaults({ errors: [{ method: 'GET', path: `/v1/projects/${sb.handle.project}/services`, status: 403, message: 'injected 403' }] });
  const r = await sb.gcloud(['services', 'list', '--enabled']);
  await sb.setFaults({});
  assert.is(r.code, 1);
  assert.match(r.stderr, `does not have permission to access projects instance [${sb.handle.project}]`);
  assert.match(r.stderr, 'injected 403');
});

test.run();
