// Artifact Registry through the real gcloud: repositories create (an operation) / describe / list / update
// labels / delete, docker images list with tags (tags move to the newest push), and the errors.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { putDockerImage } from '../../lib/sandbox/apis/artifactregistry.js';
import { inProcessContext } from '../../lib/sandbox/index.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('Artifact Registry gcloud tests');
let sb: TestSandbox;
const LOC = '--location=us-central1';

test.before(async () => {
  sb = await startTestSandbox();
  const r = await sb.gcloud(['services', 'enable', 'artifactregistry.googleapis.com']);
  assert.is(r.code, 0, r.stderr);
});
test.after(async () => {
  await sb?.stop();
});


test('repositories create (operation), describe, list, update labels', async () => {
  const created = await sb.ok(['artifacts', 'repositories', 'create', 'digitwinlive', '--repository-format=docker', LOC, '--description=Docker images', '--labels=app=digitwin']);
  assert.match(created.stderr, 'Created repository [digitwinlive].');
  const d = JSON.parse((await sb.ok(['artifacts', 'repositories', 'describe', 'digitwinlive', LOC, '--format=json'])).stdout);
  assert.is(d.name, `projects/${sb.handle.project}/locations/us-central1/repositories/digitwinlive`);
  assert.is(d.format, 'DOCKER');
  assert.is(d.registryUri, `us-central1-docker.pkg.dev/${sb.handle.project}/digitwinlive`);
  assert.equal(d.labels, { app: 'digitwin' });
  await sb.ok(['artifacts', 'repositories', 'update', 'digitwinlive', LOC, '--update-labels=env=dev']);
  const list = await sb.ok(['artifacts', 'repositories', 'list', LOC, '--format=json(name,labels)']);
  assert.equal(JSON.parse(list.stdout)[0].labels, { app: 'digitwin', env: 'dev' });
});

test('docker images list --include-tags: a tag moves to the image pushed last', async () => {
  const ctx = inProcessContext(sb.handle)!;
  const base = { project: sb.handle.project, location: 'us-central1', repository: 'digitwinlive', image: 'api-gateway', sizeBytes: 1234 };
  putDockerImage(ctx, { ...base, digest: `sha256:${'a'.repeat(64)}`, tags: ['latest', 'v1'] });
  putDockerImage(ctx, { ...base, digest: `sha256:${'b'.repeat(64)}`, tags: ['latest', 'v2'] });
  const images = JSON.parse((await sb.ok(['artifacts', 'docker', 'images', 'list', `us-central1-docker.pkg.dev/${sb.handle.project}/digitwinlive`, '--include-tags', '--format=json'])).stdout);
  const byDigest = Object.fromEntries(images.map((i: any) => [i.version, i.tags]));
  assert.is(images[0].package, `us-central1-docker.pkg.dev/${sb.handle.project}/digitwinlive/api-gateway`);
  assert.equal(byDigest[`sha256:${'a'.repeat(64)}`], ['v1']);
  assert.equal(byDigest[`sha256:${'b'.repeat(64)}`], ['latest', 'v2']);
});

test('errors: already exists (409), not found (404), invalid location and id (400), injected 403', async () => {
  const dup = await sb.gcloud(['artifacts', 'repositories', 'create', 'digitwinlive', '--repository-format=docker', LOC]);
  assert.is(dup.code, 1);
  assert.match(dup.stderr, 'ALREADY_EXISTS: the repository already exists');
  const missing = await sb.gcloud(['artifacts', 'repositories', 'describe', 'nope', LOC]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, 'NOT_FOUND: Requested entity was not found.');
  const badLocation = await sb.gcloud(['artifacts', 'repositories', 'create', 'other', '--repository-format=docker', '--location=mars-west1']);
  assert.is(badLocation.code, 1);
  assert.match(badLocation.stderr, "INVALID_ARGUMENT: Invalid value for location: 'mars-west1'");
  const badId = await sb.fetch(`/v1/projects/${sb.handle.project}/locations/us-central1/repositories?repositoryId=Bad_Repo`, { method: 'POST', body: '{"format":"DOCKER"}', headers: { 'content-type': 'application/json' } });
  assert.is(badId.status, 400);
  assert.match((await badId.json()).error.message, "Invalid value for repository_id: 'Bad_Repo'");
  await sb.setFaults({ errors: [{ method: 'GET', path: '/repositories/digitwinlive', status: 403, message: 'injected 403' }] });
  const denied = await sb.gcloud(['artifacts', 'repositories', 'describe', 'digitwinlive', LOC]);
  await sb.setFaults({});
  assert.is(denied.code, 1);
  assert.match(denied.stderr, 'PERMISSION_DENIED: injected 403');
});

test('repositories delete (operation), then it is gone', async () => {
  await sb.ok(['artifacts', 'repositories', 'delete', 'digitwinlive', LOC, '--quiet']);
  const list = await sb.ok(['artifacts', 'repositories', 'list', LOC, '--format=value(name)']);
  assert.is(list.stdout.trim(), '');
});

test.run();
