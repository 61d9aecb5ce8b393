// The gcloud wrapper with the real gcloud: a call past its bound fails as "timeout" (never "not found")
// and leaves no gcloud process behind; errors are classified from what gcloud prints; dry-run runs no
// mutating call; a secret on stdin never reaches the recorded command line; read checks the answer's shape.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { classify, createGcloud, type GcloudStats } from '../../lib/gcp/gcloud.js';
import type { Logger } from '../../lib/engine/types.js';
import { processesWithEnv } from '../helpers/processes.js';

const test = gcloudTests('gcloud wrapper tests');
const lines: string[] = [];
const log: Logger = { info: (m) => lines.push(m), success: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: (m) => lines.push(m), output: (m) => lines.push(m) };

test('a call past its bound fails as a timeout and its whole gcloud process tree is gone', async () => {
  const silent = net.createServer(() => {}); // accepts connections, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-gcloud-'));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const stats: GcloudStats = { calls: 0, retries: 0, commands: [] };
    const gcloud = createGcloud({
      project: 'demo-project',
      env: { CLOUDSDK_CONFIG: config, CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true', CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE: `http://127.0.0.1:${port}/` },
      dryRun: false, log, signal: new AbortController().signal, stats,
      ensureLoggedIn: async () => {}, // unauthenticated on purpose: this is about the bound, not the login
    });
    const error = await gcloud.read(z.unknown(), ['services', 'list'], { timeoutMs: 3000 }).then(() => null, (e) => e);
    assert.is(error?.kind, 'timeout');
    assert.is(stats.retries, 0, 'a timeout is not retried: the caller chose the bound');
    assert.equal(processesWithEnv(`CLOUDSDK_CONFIG=${config}`), []);
  } finally {
    silent.close();
    fs.rmSync(config, { recursive: true, force: true });
  }
});

test('dry-run: a mutating call is printed, not run; a secret on stdin never reaches the recorded command', async () => {
  const stats: GcloudStats = { calls: 0, retries: 0, commands: [] };
  const gcloud = createGcloud({ project: 'demo-project', env: {}, dryRun: true, log, signal: new AbortController().signal, stats });
  assert.is(await gcloud.mutate(['secrets', 'versions', 'add', 'jwt-secret', '--data-file=-'], { stdin: 's3cret-value-123', secret: true }), undefined);
  assert.is(stats.calls, 0);
  assert.ok(lines.some((l) => l.startsWith('would run: gcloud secrets versions add jwt-secret --data-file=- --project=demo-project')));
  assert.not.ok(lines.some((l) => l.includes('s3cret-value-123')));
});

test('errors are classified from what gcloud prints (captured texts of gcloud 528)', () => {
  const cases: [string, string][] = [
    ['ERROR: (gcloud.sql.instances.describe) NOT_FOUND: The Cloud SQL instance does not exist.', 'not-found'],
    ['ERROR: (gcloud.storage.buckets.describe) gs://nope-bucket not found: 404.', 'not-found'],
    ['ERROR: (gcloud.run.services.describe) Cannot find service [api-gateway]', 'not-found'],
    ['ERROR: (gcloud.secrets.create) Resource in projects [demo] is the subject of a conflict: Secret [projects/1/secrets/jwt-secret] already exists.', 'already-exists'],
    ['ERROR: (gcloud.storage.buckets.create) CONFLICT: Your previous request to create the named bucket succeeded and you already own it.', 'already-exists'],
    ['ERROR: (gcloud.projects.add-iam-policy-binding) Resource in projects [demo:setIamPolicy] is the subject of a conflict: injected 409', 'precondition'],
    ['ERROR: (gcloud.services.list) [None] does not have permission to access projects instance [demo] (or it may not exist): injected 403.', 'permission'],
    ['ERROR: (gcloud.sql.instances.describe) There was no instance found at projects/demo/instances/x or you are not authorized to access it.', 'permission'],
    ['ERROR: (gcloud.artifacts.repositories.describe) RESOURCE_EXHAUSTED: injected 429', 'transient'],
  ];
  for (const [stderr, kind] of cases) assert.is(classify(stderr, 1), kind, stderr);
});

test('the login is checked lazily, once per run, before the first gcloud process: logged out → the login error, no call', async () => {
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-gcloud-'));
  try {
    const stats: GcloudStats = { calls: 0, retries: 0, commands: [] };
    const setup = { project: 'demo-project', env: { CLOUDSDK_CONFIG: config }, dryRun: false, log, signal: new AbortController().signal, stats };
    const errors = await Promise.all([createGcloud(setup), createGcloud(setup)].map((g) => g.mutate(['services', 'enable', 'run.googleapis.com']).then(() => null, (e) => e)));
    for (const e of errors) assert.match(String(e?.message), 'gcloud is not authenticated: no active account (run `gcloud auth login`)');
    assert.is(stats.calls, 0, 'no gcloud call was made');
  } finally {
    fs.rmSync(config, { recursive: true, force: true });
  }
});

test('Cloud Storage errors in the JSON API\'s shape (gcloud prints HTTPError <code>:) are classified like the others', () => {
  const cases: [string, string][] = [
    ['ERROR: (gcloud.storage.buckets.create) HTTPError 409: Your previous request to create the named bucket succeeded and you already own it.', 'already-exists'],
    ['ERROR: (gcloud.storage.objects.update) HTTPError 412: At least one of the pre-conditions you specified did not hold.', 'precondition'],
    ['ERROR: (gcloud.storage.buckets.describe) HTTPError 404: The specified bucket does not exist.', 'not-found'],
    ["ERROR: (gcloud.storage.buckets.create) HTTPError 403: alice@example.com does not have storage.buckets.create access to the Google Cloud project. Permission 'storage.buckets.create' denied on resource (or it may not exist).", 'permission'],
    ['ERROR: (gcloud.projects.describe) [alice@example.com] does not have permission to access projects instance [other-project-xyz] (or it may not exist): The caller does not have permission', 'permission'],
  ];
  for (const [stderr, kind] of cases) assert.is(classify(stderr, 1), kind, stderr);
});

test('read with a schema returns the checked answer; an answer of another shape is an error naming the field', async () => {
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-gcloud-'));
  try {
    const stats: GcloudStats = { calls: 0, retries: 0, commands: [] };
    const gcloud = createGcloud({
      project: 'demo-project', env: { CLOUDSDK_CONFIG: config, CLOUDSDK_CORE_PROJECT: 'demo-project' }, dryRun: false, log, signal: new AbortController().signal, stats,
      ensureLoggedIn: async () => {}, // `config list` needs no login
    });
    const shape = (project: z.ZodType) => z.looseObject({ core: z.looseObject({ project }) });
    const answer = await gcloud.read(shape(z.string()), ['config', 'list'], { project: false });
    assert.is(answer?.core.project, 'demo-project');
    const error = await gcloud.read(shape(z.number()), ['config', 'list'], { project: false }).then(() => null, (e) => e);
    assert.is(error?.kind, 'other');
    assert.match(String(error?.message), /^unexpected answer: core\.project: .*expected number/);
    assert.is(error?.command, 'gcloud config list --format=json --quiet');
  } finally {
    fs.rmSync(config, { recursive: true, force: true });
  }
});

test.run();
