// Safe rollout and rollback against the sandbox (properties 24, 34, 36; requirement 12): a new revision
// that fails its health check never takes traffic, the task fails naming service, revision, check and
// log command, the previous image stays in the registry; rollback by hand to the previous revision, to a
// named revision and to an image tag, each printing the resulting traffic split.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { deployWorld, imageOf, show, summary, trafficOf, type DeployWorld } from './sandbox.js';

const test = gcloudTests('deploy/rollout tests');

let w: DeployWorld;
const key = 'face-processing-service';
/** The revisions of face-processing-service in the order they were created. */
const history: { revision: string; image: string }[] = [];

async function record(): Promise<void> {
  const service = await w.service(key);
  history.push({ revision: service.status!.latestReadyRevisionName!, image: imageOf(service) });
}

test.before(async () => {
  // deploy:face-processing-service runs the setup steps it needs itself (no database, no secrets).
  w = await deployWorld({ setup: [] });
  const r = await w.run([`deploy:${key}`]);
  assert.is(r.code, 0, show(r));
  await record();
  w.app.append('services/face-processing-service/src/index.js', '\n// second version\n');
  const again = await w.run([`deploy:${key}`]);
  assert.is(again.code, 0, show(again));
  await record();
});
test.after(async () => {
  await w?.close();
});

test('an unhealthy new revision never takes traffic: the old one keeps 100%, the task says what failed and where to look', async () => {
  w.app.append('services/face-processing-service/src/index.js', '\n// a broken version\n');
  const built = await w.run([`build:${key}`, '--json']);
  assert.is(built.code, 0, show(built));
  const newImage = (summary(built).tasks.find((t) => t.name === `build:${key}`) as any).outputs.image as string;
  assert.match(newImage, /@sha256:/);
  await w.faults({ unhealthy: { images: [newImage.split('@')[1]] } });
  try {
    const r = await w.run([`deploy:${key}`]);
    assert.is(r.code, 1, show(r));
    const service = await w.service(key);
    const failed = service.status!.latestCreatedRevisionName!;
    assert.is.not(failed, history[1].revision, 'a new revision was created');
    assert.equal(trafficOf(service), { [history[1].revision]: 100 }, 'the previous revision serves everything');
    const name = w.infra().services.find((s) => s.key === key)!.name;
    assert.ok(r.stderr.includes(`${name}: revision ${failed} failed its health check`), r.stderr);
    assert.match(r.stderr, /\/health → 503/);
    assert.ok(r.stderr.includes(`traffic stays on ${history[1].revision} (100%)`), r.stderr);
    assert.ok(r.stderr.includes(`gcloud run services logs read ${name} --region=${w.sandbox.region}`), r.stderr);
    assert.not.match(r.stderr, /\n\s+at .*\.ts:\d+/, 'no stack trace');
    // Both images stay in the registry.
    const images = (await w.images()).get(key)!;
    for (const image of [history[1].image, newImage]) assert.ok(images.has(image.split('@')[1]), image);
  } finally {
    await w.faults({});
  }
});

test('the failed deploy is not cached: the next run tries again and, healthy now, moves traffic', async () => {
  const r = await w.run([`deploy:${key}`, '--json']);
  assert.is(r.code, 0, show(r));
  assert.is(w.statuses(r)[`deploy:${key}`], 'ran');
  const service = await w.service(key);
  assert.equal(trafficOf(service), { [service.status!.latestReadyRevisionName!]: 100 });
  await record();
});

test('rollback: by default to the revision before the one serving, printing the traffic split', async () => {
  const r = await w.run([`rollback:${key}`]);
  assert.is(r.code, 0, show(r));
  const service = await w.service(key);
  // The revision that failed its check sits between them and is skipped: it never served.
  assert.equal(trafficOf(service), { [history[1].revision]: 100 });
  assert.match(r.stderr, new RegExp(`100%\\s+${history[1].revision}`));
});

test('rollback to a named revision and to an image tag', async () => {
  const named = await w.run([`rollback:${key}`, '--', `--to=${history[0].revision}`]);
  assert.is(named.code, 0, show(named));
  assert.equal(trafficOf(await w.service(key)), { [history[0].revision]: 100 });

  const images = (await w.images()).get(key)!;
  const tag = images.get(history[2].image.split('@')[1])!.find((t) => /^\d{8}-\d{6}$/.test(t))!;
  const tagged = await w.run([`rollback:${key}`, '--', `--to=${tag}`]);
  assert.is(tagged.code, 0, show(tagged));
  const service = await w.service(key);
  assert.is(imageOf(service), history[2].image, 'the tag\'s digest is deployed');
  assert.equal(trafficOf(service), { [service.status!.latestReadyRevisionName!]: 100 });
});

test('rollback to something that does not exist says what exists, and changes nothing', async () => {
  const before = trafficOf(await w.service(key));
  const r = await w.run([`rollback:${key}`, '--', '--to=no-such-thing']);
  assert.is(r.code, 1, show(r));
  assert.match(r.stderr, /no-such-thing is neither a revision of this service nor a tag of/);
  assert.ok(r.stderr.includes(history[0].revision), 'lists revisions');
  assert.equal(trafficOf(await w.service(key)), before);
});

test('urls shows every service with its URL or "not deployed"', async () => {
  const r = await w.run(['urls']);
  assert.is(r.code, 0, show(r));
  const url = (await w.service(key)).status!.url!;
  assert.ok(r.stderr.includes(url), r.stderr);
  assert.match(r.stderr, /api-gateway-dev\s+not deployed \(pnpm task deploy:api-gateway\)/);
});

test('public access the deploy could not set (gcloud only warns) is set before the health check', async () => {
  const name = w.infra().services.find((s) => s.key === key)!.name;
  const region = `--region=${w.sandbox.region}`;
  const removed = await w.gcloud(['run', 'services', 'remove-iam-policy-binding', name, region, '--member=allUsers', '--role=roles/run.invoker']);
  assert.is(removed.code, 0, show(removed));
  // The deploy's own setIamPolicy gets a quota error once: gcloud warns and exits 0, the service stays private.
  await w.faults({ errors: [{ method: 'POST', path: ':setIamPolicy', status: 429, times: 1 }] });
  try {
    w.app.append('services/face-processing-service/src/index.js', '\n// a version deployed while IAM is throttled\n');
    const r = await w.run([`deploy:${key}`]);
    assert.is(r.code, 0, show(r));
    assert.match(r.stderr, /answered 403: granting public access/);
    const policy = await w.json<{ bindings?: { role: string; members: string[] }[] }>(['run', 'services', 'get-iam-policy', name, region]);
    assert.ok(policy.bindings?.some((b) => b.role === 'roles/run.invoker' && b.members.includes('allUsers')), JSON.stringify(policy));
  } finally {
    await w.faults({});
  }
});

test.run();
