// What a service's image is built from: the fingerprint covers exactly its source closure (not the rest
// of the monorepo, not ignored files), the upload leaves unrelated packages out, and a missing
// .gcloudignore is generated so node_modules, build output and env files never travel.
import fs from 'node:fs';
import path from 'node:path';
import { glob } from 'zx';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultGcloudignore, ensureGcloudignore, sourceClosure, sourceGlobs, uploadIgnoreText } from '../../../tasks/build/build-source.js';
import { buildConfig, timestampTag } from '../../../tasks/build/cloud-build.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { infra as config } from '../../../tasks.config.js';
import { copySampleApp, type AppCopy } from '../deploy/app.js';

const svc = (name: string) => {
  const s = config.services.find((x) => x.name === name)!;
  return { key: s.name, dockerfile: s.dockerfile, packageDir: s.packageDir };
};
let app: AppCopy;
const files = async (name: string) =>
  (await glob(sourceGlobs(app.root, svc(name)), { dot: true, onlyFiles: true, ignore: ['**/node_modules/**', '**/.git/**'] })).map((f) => path.relative(app.root, f)).sort();
const silent = { info() {}, success() {}, warn() {}, error() {}, debug() {}, output() {} };

test.before.each(() => {
  app = copySampleApp();
});
test.after.each(() => app.cleanup());

test('the fingerprint of face-processing-service covers its closure, the root manifests and its Dockerfile only', async () => {
  fs.mkdirSync(app.file('packages/logger/node_modules/x'), { recursive: true });
  app.write('packages/logger/node_modules/x/index.js', '');
  fs.mkdirSync(app.file('packages/config/dist'));
  app.write('packages/config/dist/index.js', '');
  app.write('.env.production', 'JWT_SECRET=x\n');
  const list = await files('face-processing-service');
  assert.equal(list, [
    'package.json', 'packages/config/package.json', 'packages/config/src/index.js', 'packages/logger/package.json', 'packages/logger/src/index.js',
    'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'services/face-processing-service/Dockerfile', 'services/face-processing-service/package.json',
    'services/face-processing-service/src/index.js',
  ]);
});

test('api-gateway\'s fingerprint includes its transitive dependency and the database package, not the other services', async () => {
  const list = await files('api-gateway');
  assert.ok(list.includes('packages/config/src/index.js'), 'transitive @clone/config');
  assert.ok(list.includes('packages/database/prisma/schema.prisma'));
  assert.not.ok(list.some((f) => f.startsWith('apps/websocket-server') || f.startsWith('services/')), list.join('\n'));
});

test('a .gcloudignore with negations is not translated: the fingerprint then covers more, never less', async () => {
  app.write('.gcloudignore', 'dist/\n!dist/keep.js\n');
  fs.mkdirSync(app.file('packages/config/dist'));
  app.write('packages/config/dist/keep.js', '');
  assert.ok((await files('face-processing-service')).includes('packages/config/dist/keep.js'));
});

test('the upload of a service leaves out the workspace packages it neither needs nor copies', () => {
  const text = uploadIgnoreText('node_modules/\n', sourceClosure(app.root, svc('face-processing-service')));
  assert.match(text, /^node_modules\/\n/);
  const excluded = text.split('\n').filter((l) => l.startsWith('/'));
  assert.equal(excluded.sort(), ['/apps/api-gateway/', '/apps/websocket-server/', '/packages/database/', '/packages/validation/']);
  const gateway = uploadIgnoreText('', sourceClosure(app.root, svc('api-gateway'))).split('\n').filter((l) => l.startsWith('/'));
  assert.equal(gateway.sort(), ['/apps/websocket-server/', '/services/face-processing-service/']);
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
});

test.run();
