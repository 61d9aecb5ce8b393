// Cloud Run in the sandbox through the real gcloud (regional host via the sandbox proxy): deploy with the full
// flag set, revisions, traffic and tags, IAM, the service URL served by the sandbox (health from the revision
// traffic picks; 503 when marked unhealthy), a missing image failing the deploy, delete.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_ACCOUNT } from '../../lib/sandbox/gcloud-config.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('Cloud Run sandbox tests');
const REGION = ['--region=us-central1', '--platform=managed'];
let sandbox: TestSandbox;
let image: string;
let url: string;
let first: string;

async function ok(args: string[]) {
  const out = await sandbox.gcloud(args);
  assert.is(out.code, 0, `gcloud ${args.join(' ')}\n${out.stderr}`);
  return out;
}

const describe = async (name = 'api-gateway') => JSON.parse((await ok(['run', 'services', 'describe', name, ...REGION, '--format=json'])).stdout);

async function health(base: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/health`, { headers });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

test.before(async () => {
  sandbox = await startTestSandbox();
  const project = sandbox.handle.project;
  image = `us-central1-docker.pkg.dev/${project}/digitwinlive/api-gateway`;
  // sqladmin too: as against Google, deploy --add-cloudsql-instances offers to enable it otherwise (and aborts without a prompt).
  await ok(['services', 'enable', 'run.googleapis.com', 'cloudbuild.googleapis.com', 'artifactregistry.googleapis.com', 'sqladmin.googleapis.com']);
  await ok(['artifacts', 'repositories', 'create', 'digitwinlive', '--repository-format=docker', '--location=us-central1']);
  // The image comes from a real (sandbox) build of a tiny source.
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-'));
  fs.writeFileSync(path.join(src, 'Dockerfile'), 'FROM node:20-alpine\nCOPY index.js /\nCMD ["node", "/index.js"]\n');
  fs.writeFileSync(path.join(src, 'index.js'), 'console.log("hi")\n');
  await ok(['builds', 'submit', `--tag=${image}:v1`, src]);
  fs.rmSync(src, { recursive: true, force: true });
});

test.after(async () => {
  await sandbox?.stop();
});

test('run deploy with the full flag set: new service, revision NAME-00001-xyz serving 100%, URL served by the sandbox', async () => {
  const project = sandbox.handle.project;
  const out = await ok([
    'run', 'deploy', 'api-gateway', `--image=${image}:v1`, ...REGION, '--port=8080', '--memory=512Mi', '--cpu=1', '--min-instances=0', '--max-instances=10',
    '--timeout=300', '--set-env-vars=A=1,B=2', '--set-secrets=JWT_SECRET=jwt-secret:latest', `--add-cloudsql-instances=${project}:us-central1:digitwinlive-db`,
    `--service-account=digitwinlive-sa@${project}.iam.gserviceaccount.com`, '--allow-unauthenticated', '--labels=app=digitwinlive',
  ]);
  assert.match(out.stderr, /Service \[api-gateway\] revision \[api-gateway-00001-[a-z]{3}\] has been deployed and is serving 100 percent of traffic\./);
  const svc = await describe();
  first = svc.status.latestReadyRevisionName;
  url = svc.status.url;
  assert.match(first, /^api-gateway-00001-[a-z]{3}$/);
  assert.is(url, `${sandbox.handle.url}/__run/${project}/us-central1/api-gateway`);
  assert.equal(svc.status.conditions.map((c: any) => `${c.type}=${c.status}`), ['Ready=True', 'ConfigurationsReady=True', 'RoutesReady=True']);
  assert.is(svc.metadata.labels['cloud.googleapis.com/location'], 'us-central1');
  assert.is(svc.metadata.labels.app, 'digitwinlive');
  assert.is(svc.status.observedGeneration, svc.metadata.generation);
  assert.equal(svc.spec.traffic, [{ latestRevision: true, percent: 100 }]);
  const container = svc.spec.template.spec.containers[0];
  assert.equal([container.resources.limits.memory, container.resources.limits.cpu, container.ports[0].containerPort], ['512Mi', '1', 8080]);
  assert.is(svc.spec.template.metadata.annotations['autoscaling.knative.dev/maxScale'], '10');
  assert.equal(await health(url), { status: 200, body: { service: 'api-gateway', revision: first, image: `${image}:v1`, path: '/health' } });

  const policy = await ok(['run', 'services', 'get-iam-policy', 'api-gateway', ...REGION, '--format=json']);
  assert.equal(JSON.parse(policy.stdout).bindings, [{ members: ['allUsers'], role: 'roles/run.invoker' }]);
});

test('an image missing from Artifact Registry fails the deploy with Google\'s message; traffic stays on the good revision', async () => {
  const out = await sandbox.gcloud(['run', 'deploy', 'api-gateway', `--image=${image}:nope`, ...REGION]);
  assert.is(out.code, 1);
  assert.match(out.stderr, new RegExp(`ERROR: \\(gcloud.run.deploy\\) Revision 'api-gateway-00002-[a-z]{3}' is not ready and cannot serve traffic. Image '${image}:nope' not found.`));
  assert.is((await health(url)).body.revision, first);
});

test('deploy --no-traffic --tag: the new revision answers at its tag URL only; an unhealthy revision answers 503', async () => {
  const out = await ok(['run', 'deploy', 'api-gateway', `--image=${image}:v1`, ...REGION, '--no-traffic', '--tag=candidate']);
  assert.match(out.stderr, 'is serving 0 percent of traffic');
  const svc = await describe();
  const third = svc.status.latestCreatedRevisionName;
  assert.match(third, /^api-gateway-00003-[a-z]{3}$/);
  const tagged = svc.status.traffic.find((t: any) => t.tag === 'candidate');
  assert.is(tagged.revisionName, third);
  assert.is(tagged.url, `${sandbox.handle.url}/__run/${sandbox.handle.project}/us-central1/candidate---api-gateway`);
  assert.is((await health(tagged.url)).body.revision, third);
  assert.is((await health(url)).body.revision, first);

  await sandbox.setFaults({ unhealthy: { revisions: [third] } });
  assert.equal(await health(tagged.url), { status: 503, body: { error: 'unhealthy (sandbox fault)', service: 'api-gateway', revision: third, image: `${image}:v1`, tag: 'candidate', path: '/health' } });
  assert.is((await health(url)).status, 200);
  await sandbox.setFaults({});

  const revisions = await ok(['run', 'revisions', 'list', '--service=api-gateway', ...REGION, '--format=value(metadata.name)']);
  const names = revisions.stdout.trim().split('\n');
  assert.equal(names.map((n) => n.replace(/-[a-z]{3}$/, '')), ['api-gateway-00003', 'api-gateway-00002', 'api-gateway-00001']);
  assert.equal([names[0], names[2]], [third, first]);
});

test('update-traffic --to-revisions and --to-latest move what the URL serves', async () => {
  const svc = await describe();
  const third = svc.status.latestCreatedRevisionName;
  const split = await ok(['run', 'services', 'update-traffic', 'api-gateway', ...REGION, `--to-revisions=${third}=100`]);
  assert.match(split.stdout, `100% ${third}`);
  assert.is((await health(url)).body.revision, third);
  await ok(['run', 'services', 'update-traffic', 'api-gateway', ...REGION, `--to-revisions=${first}=100`]);
  assert.is((await health(url)).body.revision, first);
  const latest = await ok(['run', 'services', 'update-traffic', 'api-gateway', ...REGION, '--to-latest', '--remove-tags=candidate']);
  assert.match(latest.stdout, `100% LATEST (currently ${third})`);
  assert.is((await health(url)).body.revision, third);
  assert.is((await health(`${url.replace(/api-gateway$/, 'candidate---api-gateway')}`)).status, 404);
});

test('a private service answers only an identity token from `gcloud auth print-identity-token` (403 otherwise); list; delete → 404', async () => {
  await ok(['run', 'deploy', 'private-svc', `--image=${image}:v1`, ...REGION, '--no-allow-unauthenticated']);
  const privateUrl = (await describe('private-svc')).status.url;
  assert.is((await health(privateUrl)).status, 403);
  assert.is((await health(privateUrl, { authorization: 'Bearer made-up-token' })).status, 403, 'any bearer is not enough');
  const token = (await ok(['auth', 'print-identity-token'])).stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT, as Google issues');
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
  assert.is(claims.email, SANDBOX_ACCOUNT);
  assert.is((await health(privateUrl, { authorization: `Bearer ${token}` })).status, 200);
  const list = await ok(['run', 'services', 'list', ...REGION, '--format=value(metadata.name,metadata.labels."cloud.googleapis.com/location")']);
  assert.equal(list.stdout.trim().split('\n'), ['api-gateway\tus-central1', 'private-svc\tus-central1']);

  await ok(['run', 'services', 'delete', 'api-gateway', ...REGION, '--quiet']);
  const gone = await sandbox.gcloud(['run', 'services', 'describe', 'api-gateway', ...REGION]);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'Cannot find service [api-gateway]');
  assert.is((await health(url)).status, 404);
});

test.run();
