// Failures before and during the build, through the CLI against the sandbox: a Dockerfile failing a
// preflight rule uploads nothing and starts no build (the whole run refuses, --continue or not); a build
// that fails on Cloud Build exits non-zero with the build's error and where its log is, and the service
// is not deployed.
import fs from 'node:fs';
import path from 'node:path';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { dockerfileFixture, sampleApp } from './app.js';
import { deployWorld, show, type DeployWorld } from './sandbox.js';

const test = gcloudTests('deploy/failures tests');

let w: DeployWorld;
const gateway = 'apps/api-gateway/Dockerfile';
const original = fs.readFileSync(path.join(sampleApp, gateway), 'utf8');
const useFixture = (name: string) => fs.copyFileSync(dockerfileFixture(name), w.app.file(gateway));
const builds = async () => (await w.json<unknown[]>(['builds', 'list'])).length;

test.before(async () => {
  // The deploy tasks run the setup steps they need themselves; the APIs and the registry come first so
  // that the builds can be counted.
  w = await deployWorld({ setup: [] });
  const r = await w.run(['registry:create']);
  assert.is(r.code, 0, show(r));
});
test.after(async () => {
  await w?.close();
});
test.after.each(() => w.app.write(gateway, original));

for (const [fixture, expected] of [
  ['single-stage', /only 1 stage/],
  ['missing-transitive-dependency', /@clone\/config is never copied into the image, but @clone\/api-gateway needs it/],
  ['no-prisma-in-build', /not generated in the build stage/],
  ['no-prisma-in-production', /not generated in the production stage/],
] as const) {
  test(`preflight: ${fixture} is refused before any upload`, async () => {
    useFixture(fixture);
    const before = await builds();
    await w.clearRequests();
    const r = await w.run(['build:api-gateway']);
    assert.is(r.code, 1, show(r));
    assert.match(r.stderr, expected);
    assert.match(r.stderr, /apps\/api-gateway\/Dockerfile:\d+: /);
    assert.match(r.stderr, /Nothing was uploaded/);
    const requests = await w.requests();
    assert.equal(requests.filter((q) => /upload|builds/.test(q.path)).map((q) => `${q.method} ${q.path}`), [], 'no upload, no build request');
    assert.is(await builds(), before, 'no build in the sandbox');
  });
}

test('preflight: a missing Dockerfile is named with the fix', async () => {
  w.app.remove(gateway);
  const r = await w.run(['build:api-gateway']);
  assert.is(r.code, 1, show(r));
  assert.match(r.stderr, /apps\/api-gateway\/Dockerfile does not exist: create it/);
});

test('a build that fails on Cloud Build: non-zero, the build\'s error, where the log is, nothing deployed', async () => {
  useFixture('fails-in-build');
  const before = await builds();
  const r = await w.run(['deploy:api-gateway', '--json']);
  assert.is(r.code, 1, show(r));
  assert.is(await builds(), before + 1, 'the build ran on Cloud Build');
  const statuses = w.statuses(r);
  assert.is(statuses['build:api-gateway'], 'failed');
  assert.is(statuses['deploy:api-gateway'], 'skipped-dep-failed');
  assert.match(r.stderr, /Cloud Build \S+ of api-gateway ended with FAILURE/);
  // The tail of the build's own log, read from its logs bucket, names the failing step.
  assert.match(r.stderr, /last lines of the build log:[\s\S]*RUN exit 1/);
  assert.match(r.stderr, /gcloud builds log \S+ --project=/);
  assert.match(r.stderr, /build:api-gateway\.log/);
  const service = await w.gcloud(['run', 'services', 'describe', 'api-gateway-dev', `--region=${w.sandbox.region}`]);
  assert.is.not(service.code, 0, 'api-gateway was not deployed');
});

test('a Dockerfile the preflight refuses stops the whole run before anything starts, --continue or not', async () => {
  useFixture('several-problems');
  const before = await builds();
  const r = await w.run(['deploy:all', '--continue']);
  assert.is(r.code, 1, show(r));
  assert.match(r.stderr, /apps\/api-gateway\/Dockerfile cannot build api-gateway \(4 problems\)/);
  assert.match(r.stderr, /apps\/api-gateway\/Dockerfile:\d+: only 1 stage/);
  assert.is(await builds(), before, 'nothing was built');
});

test.run();
