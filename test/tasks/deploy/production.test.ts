// --env production against the sandbox: the deployed URL is written into .env.production changing only
// its own line (property 35), production resources are separate from development ones, and unsafe
// production settings (literal secrets, http:// service URLs, debug endpoints) are refused with every key
// named, before any gcloud call.
import fs from 'node:fs';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { deployWorld, envOf, readEnvFile, show, type DeployWorld } from './sandbox.js';

const test = gcloudTests('deploy/production tests');

let w: DeployWorld;
const key = 'face-processing-service';
const original = [
  '# DigiTwin Live, production settings',
  'NODE_ENV=production',
  '',
  '# Filled in by deploy:',
  'API_GATEWAY_URL=https://api.example.com',
  'FACE_PROCESSING_URL=https://old-face.example.com',
  'LOG_LEVEL=info # kept as written',
  'JWT_SECRET=${SECRET_JWT_SECRET}',
  'CORS_ORIGIN="https://app.example.com,https://admin.example.com"',
];

test.before(async () => {
  w = await deployWorld({ setup: [] });
  fs.writeFileSync(w.envFilePath('production'), original.join('\n') + '\n');
});
test.after(async () => {
  await w?.close();
});

test('a production deploy writes its URL into .env.production, changing only that line', async () => {
  const r = await w.run([`deploy:${key}`, '--env=production']);
  assert.is(r.code, 0, show(r));
  const service = await w.service(key, 'production');
  assert.is(service.metadata.name, key, 'production names carry no suffix');
  assert.is(service.metadata.labels.environment, 'production');
  const env = envOf(service);
  assert.is(env.NODE_ENV, 'production');
  assert.is(env.LOG_LEVEL, 'info');
  assert.is(env.CORS_ORIGIN, 'https://app.example.com,https://admin.example.com');
  assert.is(env.API_GATEWAY_URL, undefined, 'the env file\'s URL of a service that is not deployed is not passed on');
  const lines = readEnvFile(w.envFilePath('production')).split('\n');
  assert.equal(lines, [...original.map((l) => (l.startsWith('FACE_PROCESSING_URL=') ? `FACE_PROCESSING_URL=${service.status.url}` : l)), '']);
  // Development was not touched.
  const dev = await w.gcloud(['run', 'services', 'describe', `${key}-dev`, `--region=${w.sandbox.region}`]);
  assert.is.not(dev.code, 0);
});

test('unsafe production settings are refused, every key named, before any gcloud call', async () => {
  fs.writeFileSync(w.envFilePath('production'), [
    'NODE_ENV=production',
    'JWT_SECRET=a-literal-secret-value',
    'REFRESH_SECRET=${SECRET_REFRESH_SECRET}',
    'API_GATEWAY_URL=http://api.example.com',
    'ENABLE_DEBUG_ENDPOINTS=true',
  ].join('\n') + '\n');
  await w.clearRequests();
  const r = await w.run([`deploy:${key}`, '--env=production', '--json']);
  assert.is(r.code, 1, show(r));
  assert.match(r.stderr, /JWT_SECRET holds a literal value/);
  assert.match(r.stderr, /API_GATEWAY_URL is http:\/\/api.example.com/);
  assert.match(r.stderr, /ENABLE_DEBUG_ENDPOINTS is true/);
  assert.not.match(r.stderr, /REFRESH_SECRET/, 'a placeholder is fine');
  assert.not.ok(r.stderr.includes('a-literal-secret-value') || r.stdout.includes('a-literal-secret-value'), 'the secret is never echoed');
  // Refused by the deploy's preflight check, before the run started: no task ran, nothing reached the cloud.
  assert.is(JSON.parse(r.stdout).ok, false);
  assert.equal(await w.requests(), []);
});

test.run();
