// A Cloud Run service of the configured name that the tool did not deploy (made by hand with Google's sample
// image, no labels) is never replaced: deploy refuses before any change to it, names it and offers
// -- --adopt. Adopted, it gets the tool's labels and image, and later deploys treat it as the tool's own.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { isMutating, out } from '../setup/helpers.js';
import { deployWorld, imageOf, show, summary, type DeployWorld } from './sandbox.js';

const test = gcloudTests('deploy/ownership tests');

let w: DeployWorld;
const key = 'face-processing-service';
const handMadeImage = 'us-docker.pkg.dev/cloudrun/container/hello';
let name: string;
let handMadeRevision: string;

test.before(async () => {
  w = await deployWorld({ snapshot: 'setup', setup: [] });
  name = w.infra().services.find((s) => s.key === key)!.name;
  const made = await w.gcloud(['run', 'deploy', name, `--image=${handMadeImage}`, `--region=${w.sandbox.region}`, '--platform=managed', '--allow-unauthenticated']);
  assert.is(made.code, 0, made.stderr);
  const service = await w.service(key);
  handMadeRevision = service.status.latestReadyRevisionName;
  assert.not.ok(service.metadata.labels?.['managed-by'], 'the hand-made service has no labels of the tool');
});
test.after(async () => {
  await w?.close();
});

test('deploy refuses to replace the hand-made service, names it and offers --adopt; the service is untouched', async () => {
  await w.clearRequests();
  const r = await w.run([`deploy:${key}`, '--json']);
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === `deploy:${key}`)!;
  assert.is(failed.status, 'failed');
  assert.match(failed.error!, `Cloud Run service ${name} exists but was not created by gcp-tasks`);
  assert.match(out(r), `pnpm task deploy:${key} --env=development --sandbox -- --adopt`);
  assert.not.match(out(r), 'adopt: true', 'services have no adopt setting in tasks.config.ts: not offered');

  const service = await w.service(key);
  assert.is(imageOf(service), handMadeImage, 'still the hand-made image');
  assert.is(service.status.latestCreatedRevisionName, handMadeRevision, 'no revision was added');
  assert.not.ok(service.metadata.labels?.['managed-by'], 'not relabelled');
  const writes = (await w.requests()).filter((q) => isMutating(q) && q.path.includes(`/services/${name}`));
  assert.equal(writes.map((q) => `${q.method} ${q.path}`), [], 'no write reached the service');
});

test('with -- --adopt it is labelled and deployed like the tool\'s own; later deploys need no --adopt', async () => {
  const r = await w.run([`deploy:${key}`, '--', '--adopt']);
  assert.is(r.code, 0, show(r));
  assert.match(out(r), `adopting Cloud Run service ${name}`);
  const service = await w.service(key);
  assert.match(imageOf(service), /@sha256:[0-9a-f]{64}$/, 'the tool\'s image, pinned by digest');
  for (const [k, v] of Object.entries(w.infra().labels)) assert.is(service.metadata.labels?.[k], v, `label ${k}`);

  w.app.append('services/face-processing-service/src/index.js', '\n// a change after the adoption\n');
  const again = await w.run([`deploy:${key}`, '--json']);
  assert.is(again.code, 0, show(again));
  assert.is(w.statuses(again)[`deploy:${key}`], 'ran');
  assert.not.match(out(again), 'adopting');
});

test.run();
