// `pnpm task deploy:all --sandbox` after setup, through the real CLI and the real gcloud: every property of
// every service read back with `gcloud run services describe`, `get-iam-policy` and `artifacts docker images
// list`; a second run builds and deploys nothing; a change in one service rebuilds and redeploys only it; a
// change in a shared workspace package rebuilds its dependents only.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { deployWorld, envOf, imageOf, readEnvFile, secretsOf, show, summary, trafficOf, type DeployWorld } from './sandbox.js';

const test = gcloudTests('deploy/deploy-all tests');

let w: DeployWorld;
const keys = ['api-gateway', 'websocket-server', 'face-processing-service'];
/** Revision serving each service after the fresh deploy. */
const revisions: Record<string, string> = {};

test.before(async () => {
  w = await deployWorld({ snapshot: 'setup', setup: [] });
});
test.after(async () => {
  await w?.close();
});

test('a fresh deploy:all builds and deploys every service', async () => {
  const started = Date.now();
  const r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  const statuses = w.statuses(r);
  for (const key of keys) {
    assert.is(statuses[`build:${key}`], 'ran', key);
    assert.is(statuses[`deploy:${key}`], 'ran', key);
  }
  const run = JSON.parse(r.stdout) as { wallMs: number; criticalPath: { ms: number }; tasks: { status: string; durationMs: number }[]; gcloud: { calls: number } };
  const steps = run.tasks.filter((t) => t.status === 'ran').reduce((sum, t) => sum + t.durationMs, 0);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`  measured: cold deploy:all after setup: ${s(run.wallMs)} wall (CLI ${s(Date.now() - started)}), critical path ${s(run.criticalPath.ms)}, sum of steps ${s(steps)} (a sequential script), ${run.gcloud.calls} gcloud calls`);
  const services = await w.services();
  for (const key of keys) {
    const url = services.get(key)?.status?.url;
    assert.ok(url && r.stderr.includes(url), `the URL of ${key} is printed`);
  }
});

test('each image is in Artifact Registry with a timestamp tag and latest, and the service runs it by digest', async () => {
  const services = await w.services();
  const registry = await w.images();
  for (const key of keys) {
    const images = registry.get(key)!;
    const service = services.get(key);
    const image = imageOf(service);
    assert.match(image, /@sha256:[0-9a-f]{64}$/, `${key} is pinned by digest, not a tag`);
    const tags = images.get(image.split('@')[1]);
    assert.ok(tags, `${key}: the deployed digest is in the registry`);
    assert.ok(tags!.includes('latest'), `${key}: latest`);
    assert.ok(tags!.some((t) => /^\d{8}-\d{6}$/.test(t)), `${key}: timestamp tag in ${tags}`);
  }
});

test('region, resources, scaling, timeout, service account, labels, public access (properties 15, 19–21)', async () => {
  const infra = w.infra();
  const services = await w.services();
  for (const key of keys) {
    const config = infra.services.find((s) => s.key === key)!;
    const service = services.get(key);
    const template = service.spec.template;
    assert.is(service.metadata.labels['cloud.googleapis.com/location'], w.sandbox.region, `${key} region`);
    assert.equal(template.spec.containers[0].resources.limits, { cpu: config.cpu, memory: config.memory }, key);
    assert.is(template.metadata.annotations['autoscaling.knative.dev/maxScale'], String(config.maxInstances), key);
    assert.is(template.metadata.annotations['autoscaling.knative.dev/minScale'] ?? '0', String(config.minInstances), `${key} min instances`);
    assert.is(template.spec.timeoutSeconds, config.timeoutSeconds, key);
    assert.is(template.spec.serviceAccountName, infra.serviceAccount.email, `${key} runs as the service account`);
    assert.is(template.spec.containers[0].ports[0].containerPort, 8080, key);
    for (const [k, v] of Object.entries(infra.labels)) assert.is(service.metadata.labels[k], v, `${key} label ${k}`);
    const policy = await w.json(['run', 'services', 'get-iam-policy', config.name, `--region=${w.sandbox.region}`]);
    assert.ok(policy.bindings?.some((b: any) => b.role === 'roles/run.invoker' && b.members.includes('allUsers')), `${key} is public`);
  }
  const ws = services.get('websocket-server');
  assert.is(ws.spec.template.metadata.annotations['run.googleapis.com/sessionAffinity'], 'true', 'websocket session affinity');
  assert.is(ws.spec.template.spec.timeoutSeconds, 3600);
  // Long-lived connections: one instance always warm, CPU not throttled between requests.
  assert.is(ws.spec.template.metadata.annotations['autoscaling.knative.dev/minScale'], '1');
  assert.match(String(ws.spec.template.metadata.annotations['run.googleapis.com/cpu-throttling']), /^false$/i);
});

test('variables, secrets and Cloud SQL (properties 9, 16–18)', async () => {
  const infra = w.infra();
  const services = await w.services();
  for (const key of keys) {
    const config = infra.services.find((s) => s.key === key)!;
    const service = services.get(key);
    const env = envOf(service);
    assert.is(env.NODE_ENV, 'development', key);
    assert.is(env.GCP_PROJECT_ID, w.sandbox.project, key);
    assert.is(env.GCP_REGION, w.sandbox.region, key);
    assert.is(env.GCS_BUCKET_UPLOADS, 'clone-uploads-development', key);
    assert.is(env.LOG_LEVEL, 'debug', key);
    assert.is(env.CORS_ORIGIN, 'http://localhost:3000,http://localhost:5173', `${key}: a value with a comma arrives whole`);
    for (const k of ['JWT_SECRET', 'REFRESH_SECRET', 'DATABASE_PASSWORD', 'DATABASE_URL', 'DATABASE_PORT', 'API_GATEWAY_PORT']) assert.is(env[k], undefined, `${key} must not get ${k} as a plain value`);
    const secrets = secretsOf(service);
    const cloudsql = service.spec.template.metadata.annotations['run.googleapis.com/cloudsql-instances'];
    if (config.needs.secrets) assert.equal(secrets, { JWT_SECRET: 'jwt-secret-dev:latest', REFRESH_SECRET: 'refresh-secret-dev:latest', DATABASE_PASSWORD: 'database-password-dev:latest' }, key);
    else assert.equal(secrets, {}, key);
    if (config.needs.database) {
      assert.is(cloudsql, infra.sql.connectionName, key);
      assert.is(env.DATABASE_HOST, `/cloudsql/${w.sandbox.project}:${w.sandbox.region}:${infra.sql.instance}`, key);
    } else {
      assert.is(cloudsql, undefined, key);
      assert.is(env.DATABASE_HOST, undefined, key);
    }
  }
});

test('every service knows the other services\' URLs, correct on the first deploy:all (property 23)', async () => {
  const services = await w.services();
  const urls = Object.fromEntries(keys.map((k) => [k, services.get(k).status.url as string]));
  const expected: Record<string, [string, string]> = {
    'api-gateway': ['API_GATEWAY_URL', urls['api-gateway']],
    'websocket-server': ['WEBSOCKET_URL', urls['websocket-server'].replace(/^http/, 'ws')],
    'face-processing-service': ['FACE_PROCESSING_URL', urls['face-processing-service']],
  };
  for (const key of keys) {
    const service = services.get(key);
    const env = envOf(service);
    for (const other of keys.filter((k) => k !== key)) assert.is(env[expected[other][0]], expected[other][1], `${key} → ${expected[other][0]}`);
    // The revision carrying the URLs is the one serving, and it serves everything.
    assert.equal(trafficOf(service), { [service.status!.latestReadyRevisionName!]: 100 }, key);
    revisions[key] = service.status!.latestReadyRevisionName!;
  }
  assert.match(expected['websocket-server'][1], /^wss?:\/\//);
  // The URLs were written into the environment's env file.
  const file = readEnvFile(w.envFilePath('development'));
  for (const key of keys) assert.ok(file.split('\n').includes(`${expected[key][0]}=${expected[key][1]}`), `${expected[key][0]} in .env.development:\n${file}`);
});

test('a second deploy:all builds and deploys nothing', async () => {
  await w.clearRequests();
  const r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  const statuses = w.statuses(r);
  for (const key of keys) {
    assert.is(statuses[`build:${key}`], 'cached', key);
    assert.is(statuses[`deploy:${key}`], 'cached', key);
  }
  assert.is(statuses['deploy:all'], 'cached');
  assert.is(summary(r).gcloud.calls, 0, 'a no-op deploy:all calls no gcloud');
  const requests = await w.requests();
  assert.equal(requests.map((q) => `${q.method} ${q.path}`), [], 'nothing was sent to the cloud');
  const services = await w.services();
  for (const key of keys) assert.is(services.get(key).status.latestReadyRevisionName, revisions[key], key);
  console.log(`  measured: no-op deploy:all made ${summary(r).gcloud.calls} gcloud calls`);
});

test('a change in one service rebuilds and redeploys that service only', async () => {
  w.app.append('services/face-processing-service/src/index.js', '\n// a change\n');
  const r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  const statuses = w.statuses(r);
  assert.is(statuses['build:face-processing-service'], 'ran');
  assert.is(statuses['deploy:face-processing-service'], 'ran');
  const services = await w.services();
  for (const key of ['api-gateway', 'websocket-server']) {
    assert.is(statuses[`build:${key}`], 'cached', key);
    assert.is(statuses[`deploy:${key}`], 'cached', key);
    assert.is(services.get(key).status.latestReadyRevisionName, revisions[key], `${key} kept its revision`);
  }
  const face = services.get('face-processing-service');
  assert.is.not(face.status!.latestReadyRevisionName, revisions['face-processing-service']);
  assert.equal(trafficOf(face), { [face.status!.latestReadyRevisionName!]: 100 });
  revisions['face-processing-service'] = face.status!.latestReadyRevisionName!;
});

test('a change in a shared workspace package rebuilds its dependents only, transitive ones included', async () => {
  // @clone/config: face-processing-service uses it directly, api-gateway through @clone/validation.
  w.app.append('packages/config/src/index.js', '\n// a new setting\n');
  const r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  const statuses = w.statuses(r);
  for (const key of ['api-gateway', 'face-processing-service']) {
    assert.is(statuses[`build:${key}`], 'ran', key);
    assert.is(statuses[`deploy:${key}`], 'ran', key);
  }
  assert.is(statuses['build:websocket-server'], 'cached');
  assert.is(statuses['deploy:websocket-server'], 'cached');
  const services = await w.services();
  assert.is(services.get('websocket-server').status.latestReadyRevisionName, revisions['websocket-server']);
  assert.is.not(services.get('api-gateway').status.latestReadyRevisionName, revisions['api-gateway']);
});

test.run();
