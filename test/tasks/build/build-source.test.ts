// What a service's build uploads and fingerprints: exactly the files of its build context its Dockerfile
// reaches, after .gcloudignore and .dockerignore (`!` lines included); credentials and local clutter never,
// whatever the ignore files say; a missing .gcloudignore is generated.
import fs from 'node:fs';
import path from 'node:path';
import { glob } from 'zx';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NEVER_UPLOADED, defaultGcloudignore, ensureGcloudignore, readBuildSource, sourceGlobs } from '../../../tasks/build/build-source.js';
import { buildConfig, timestampTag } from '../../../tasks/build/cloud-build.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { infra as config } from '../../../tasks.config.js';
import { copySampleApp, type AppCopy } from '../deploy/app.js';

const resolved = resolveInfra(config, { env: 'development', project: 'demo-project', region: 'us-central1', vars: {} });
const svc = (name: string) => resolved.services.find((s) => s.key === name)!;
let app: AppCopy;
/** The files the fingerprint globs match, relative to the app root. */
const files = async (name: string) =>
  (await glob(sourceGlobs(app.root, svc(name)), { dot: true, onlyFiles: true })).map((f) => path.relative(app.root, f)).sort();
const silent = { info() {}, success() {}, warn() {}, error() {}, debug() {}, output() {} };
const plant = (rel: string, text = 'x') => {
  fs.mkdirSync(path.dirname(app.file(rel)), { recursive: true });
  app.write(rel, text);
};

test.before.each(() => {
  app = copySampleApp();
});
test.after.each(() => app.cleanup());

test('face-processing-service uploads and fingerprints its closure, the root manifests, its Dockerfile and .dockerignore only', async () => {
  plant('packages/logger/node_modules/x/index.js');
  plant('packages/config/dist/index.js');
  plant('.env.production', 'JWT_SECRET=x\n');
  const expected = [
    '.dockerignore', 'package.json', 'packages/config/package.json', 'packages/config/src/index.js', 'packages/logger/package.json', 'packages/logger/src/index.js',
    'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'services/face-processing-service/Dockerfile', 'services/face-processing-service/package.json',
    'services/face-processing-service/src/index.js',
  ];
  assert.equal(readBuildSource(app.root, svc('face-processing-service')).upload, expected);
  assert.equal(await files('face-processing-service'), expected);
});

test('api-gateway: per-file copies reach its closure and scripts/healthcheck.sh; tests, READMEs, other services and local scripts stay out', async () => {
  const upload = readBuildSource(app.root, svc('api-gateway')).upload;
  for (const f of ['packages/config/src/index.js', 'packages/database/prisma/schema.prisma', 'scripts/healthcheck.sh', 'apps/api-gateway/src/index.js']) assert.ok(upload.includes(f), f);
  for (const f of ['apps/api-gateway/src/__tests__/requireFields.test.js', 'README.md', 'scripts/seed-dev.mjs', 'packages/database/scripts/migrate.mjs']) assert.not.ok(upload.includes(f), f);
  assert.not.ok(upload.some((f) => f.startsWith('apps/websocket-server') || f.startsWith('services/')), upload.join('\n'));
  assert.equal(await files('api-gateway'), upload);
});

test('.gcloudignore with ! lines is followed (gitignore semantics), not given up on', async () => {
  plant('packages/config/src/generated.js');
  assert.ok((await files('face-processing-service')).includes('packages/config/src/generated.js'));
  app.append('.gcloudignore', 'generated.js\n!packages/logger/src/generated.js\n');
  plant('packages/logger/src/generated.js');
  const list = await files('face-processing-service');
  assert.not.ok(list.includes('packages/config/src/generated.js'), 'ignored at any depth');
  assert.ok(list.includes('packages/logger/src/generated.js'), 're-included by its ! line');
});

test('credentials and clutter are never uploaded, and are named when a COPY would have taken them', () => {
  plant('services/face-processing-service/src/server.pem', '-----BEGIN PRIVATE KEY-----');
  plant('services/face-processing-service/src/sa.json', JSON.stringify({ type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----' }));
  plant('services/face-processing-service/src/settings.json', '{"type":"settings"}');
  plant('services/face-processing-service/tmp/prod-dump.sql', 'COPY users FROM stdin;');
  plant('services/voice-cloning-service/.venv/lib/site.py', 'x'.repeat(2_000_000));
  plant('services/voice-cloning-service/app/.env', 'OPENAI_API_KEY=sk-x');
  plant('services/voice-cloning-service/app/.env.example', 'OPENAI_API_KEY=');
  // Everything goes through `COPY . .` in a Dockerfile that reaches the whole context.
  app.write('services/face-processing-service/Dockerfile', 'FROM node:20 AS b\nWORKDIR /app\nCOPY . .\nFROM node:20\nCOPY --from=b /app /app\n');
  const face = readBuildSource(app.root, svc('face-processing-service'));
  assert.equal(face.withheld, ['services/face-processing-service/src/sa.json', 'services/face-processing-service/src/server.pem', 'services/face-processing-service/tmp/', 'services/voice-cloning-service/.venv/']);
  assert.ok(face.upload.includes('services/face-processing-service/src/settings.json'));
  assert.not.ok(face.upload.some((f) => /\.pem$|sa\.json$|prod-dump\.sql$|\/tmp\//.test(f)), face.upload.join('\n'));
  assert.ok(face.upload.includes('packages/database/prisma/migrations/20250101000000_init/migration.sql'), 'migrations are not dumps');
  const voice = readBuildSource(app.root, svc('voice-cloning-service'));
  // COPY app reaches app/.env, but the app's .gcloudignore already leaves .env files out: nothing to name.
  assert.equal(voice.withheld, [], '.venv is reached by no COPY; app/.env is ignored by .gcloudignore');
  assert.not.ok(voice.upload.includes('app/.env'));
  assert.ok(voice.upload.includes('app/.env.example'));
  assert.not.ok(voice.upload.some((f) => f.startsWith('.venv')));
  for (const pattern of ['*.pem', '*.key', '*.p12', '.env', '.env.*', '!.env.example', 'node_modules/', '.venv/', 'tmp/', '*.sql']) assert.ok(NEVER_UPLOADED.includes(pattern), pattern);
});

test('a README or a test file changing leaves the fingerprint alone; a dependency source changing moves exactly its dependents', async () => {
  const before = new Map(await Promise.all(resolved.services.map(async (s) => [s.key, await files(s.key)] as const)));
  const users = (file: string) => resolved.services.filter((s) => before.get(s.key)!.includes(file)).map((s) => s.key);
  assert.equal(users('README.md'), []);
  assert.equal(users('apps/api-gateway/src/__tests__/requireFields.test.js'), []);
  assert.equal(users('packages/config/src/index.js'), ['api-gateway', 'face-processing-service']);
  assert.equal(users('packages/database/src/index.js'), ['api-gateway', 'websocket-server']);
});

test('a missing .gcloudignore is generated once, and an existing one is never overwritten', async () => {
  app.remove('.gcloudignore');
  assert.is(await ensureGcloudignore(app.root, { dryRun: true, log: silent }), defaultGcloudignore);
  assert.not.ok(fs.existsSync(app.file('.gcloudignore')), 'dry-run writes nothing');
  await ensureGcloudignore(app.root, { dryRun: false, log: silent });
  const written = app.read('.gcloudignore');
  for (const line of ['node_modules/', 'dist/', '.env', '.env.*', '.git']) assert.ok(written.split('\n').includes(line), line);
  app.write('.gcloudignore', 'mine\n');
  assert.is(await ensureGcloudignore(app.root, { dryRun: false, log: silent }), 'mine\n');
  assert.is(app.read('.gcloudignore'), 'mine\n');
});

test('the build config tags <timestamp> and latest, builds the service Dockerfile from the app root', () => {
  const infra = resolveInfra(config, { env: 'development', project: 'demo-project', region: 'us-central1', vars: {} });
  const gateway = infra.services[0];
  const tag = timestampTag(new Date('2025-11-26T00:45:12Z'));
  assert.is(tag, '20251126-004512');
  const c = buildConfig(gateway, tag, infra.labels) as { steps: { args: string[] }[]; images: string[] };
  assert.equal(c.images, ['us-central1-docker.pkg.dev/demo-project/digitwinlive-dev/api-gateway:20251126-004512', 'us-central1-docker.pkg.dev/demo-project/digitwinlive-dev/api-gateway:latest']);
  const args = c.steps[0].args;
  assert.equal(args.slice(0, 3), ['build', '--file', 'apps/api-gateway/Dockerfile']);
  assert.is(args.at(-1), '.');
  for (const image of c.images) assert.ok(args.includes(image), image);
  const voice = infra.services.find((s) => s.key === 'voice-cloning-service')!;
  const python = buildConfig(voice, tag, infra.labels, readBuildSource(app.root, voice).dockerfile) as { steps: { args: string[] }[] };
  assert.equal(python.steps[0].args.slice(0, 3), ['build', '--file', 'Dockerfile.cpu'], 'relative to its own build context');
});

test.run();
