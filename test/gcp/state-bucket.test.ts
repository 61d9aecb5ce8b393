// The Cloud Storage state backend in process, against the sandbox's JSON API with the real gcloud printing
// the token: records shared by two clones (one list plus parallel reads), two writers of one record at once
// (one precondition fails: retried when it is the same result, reported otherwise; nothing mixed), one
// salt for everyone, and the lease lock (refusal naming the holder, release, renewal, expired takeover).
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { createGcloud } from '../../lib/gcp/gcloud.js';
import { closeRestSession, createRestSession, createStorageClient, type RestSession, type StorageClient } from '../../lib/gcp/rest.js';
import { bucketLock, bucketRecords, type StateLocation } from '../../lib/gcp/state-bucket.js';
import type { Fingerprint, TaskRecord } from '../../lib/engine/cache.js';
import type { Logger } from '../../lib/engine/types.js';
import { UserError } from '../../lib/engine/errors.js';
import { testsNeeding } from '../helpers/skip.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const it = testsNeeding('gcloud', 'the state bucket against the sandbox');
const quiet = { debug() {}, info() {}, warn() {}, success() {}, output() {}, error() {} } as unknown as Logger;
const loc: StateLocation = { bucket: 'team-state-test', prefix: 'gcp-tasks' };
const env = 'development';

let sb: TestSandbox;
let session: RestSession;
const stats = { calls: 0, retries: 0, commands: [] as string[] };

/** A clone's view of the bucket: its own client (its own memory of generations), the run's session. */
function client(): StorageClient {
  const signal = new AbortController().signal;
  const gcloud = createGcloud({ project: sb.handle.project, env: sb.handle.gcloudEnv, dryRun: false, log: quiet, signal, stats });
  return createStorageClient(session, { gcloud, log: quiet, signal });
}

const fingerprint = (seed: string): Fingerprint => ({
  hash: createHash('sha256').update(seed).digest('hex'),
  parts: { definition: seed, target: { env }, config: null, env: {}, files: {}, args: '', deps: {} },
});
const record = (task: string, seed: string, outputs: Record<string, string>): Omit<TaskRecord, 'version'> => ({ task, fingerprint: fingerprint(seed), outputs, finishedAt: new Date().toISOString(), durationMs: 1 });

it.before(async () => {
  sb = await startTestSandbox();
  await sb.ok(['services', 'enable', 'storage.googleapis.com']);
  await sb.ok(['storage', 'buckets', 'create', `gs://${loc.bucket}`, '--location=us-central1', '--uniform-bucket-level-access']);
  session = createRestSession({ ...process.env, ...sb.handle.gcloudEnv }, sb.handle.project);
});

it.after(async () => {
  await closeRestSession(session);
  await sb?.stop();
});

it('a record written by one clone is read by another: one list request, then the objects in parallel', async () => {
  const a = bucketRecords(client(), loc, sb.handle.project, env);
  for (const task of ['apis:enable', 'registry:create', 'deploy:api-gateway']) await a.write(record(task, `${task}-v1`, { task }));
  const before = (await sb.requests()).length;
  const b = bucketRecords(client(), loc, sb.handle.project, env);
  assert.equal((await b.read('deploy:api-gateway'))?.outputs, { task: 'deploy:api-gateway' });
  assert.equal(await b.list(), ['apis:enable', 'deploy:api-gateway', 'registry:create']);
  assert.is(await b.read('never:ran'), null);
  const reads = (await sb.requests()).slice(before);
  assert.is(reads.filter((r) => r.method === 'GET' && r.path.endsWith('/o')).length, 1, 'one list');
  assert.is(reads.filter((r) => r.method === 'GET' && !r.path.endsWith('/o')).length, 3, 'one read per record, none again for later reads');
  assert.is(session.stats.requests >= 4, true);
});

it('two writers of the same record at once with different results: one is reported, the stored record is whole', async () => {
  const one = bucketRecords(client(), loc, sb.handle.project, env);
  const two = bucketRecords(client(), loc, sb.handle.project, env);
  // Both have read the state (no record yet) before either writes, as two runs racing without the lock would.
  assert.is(await one.read('buckets:create'), null);
  assert.is(await two.read('buckets:create'), null);
  const results = await Promise.allSettled([one.write(record('buckets:create', 'inputs-one', { by: 'one' })), two.write(record('buckets:create', 'inputs-two', { by: 'two' }))]);
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  assert.is(failed.length, 1, 'exactly one write lost on its precondition');
  assert.ok(failed[0]!.reason instanceof UserError);
  assert.match(failed[0]!.reason.message, /buckets:create .* changed by another run/);
  const winner = results[0]!.status === 'fulfilled' ? 'one' : 'two';
  const stored = await bucketRecords(client(), loc, sb.handle.project, env).read('buckets:create');
  assert.equal(stored?.outputs, { by: winner });
  assert.is(stored?.fingerprint.hash, fingerprint(`inputs-${winner}`).hash, 'fingerprint and outputs come from the same writer');
});

it('two writers of the same result at once: the precondition fails for one, which re-reads and writes again', async () => {
  const one = bucketRecords(client(), loc, sb.handle.project, env);
  const two = bucketRecords(client(), loc, sb.handle.project, env);
  await Promise.all([one.read('secrets:create'), two.read('secrets:create')]);
  const before = (await sb.requests()).length;
  await Promise.all([one.write(record('secrets:create', 'same', { n: '1' })), two.write(record('secrets:create', 'same', { n: '2' }))]);
  const uploads = (await sb.requests()).slice(before).filter((r) => r.method === 'POST' && r.path.includes('/upload/'));
  assert.equal(uploads.map((r) => r.status).sort(), [200, 200, 412], 'one precondition failed, then the retry succeeded');
  const stored = await bucketRecords(client(), loc, sb.handle.project, env).read('secrets:create');
  assert.is(stored?.fingerprint.hash, fingerprint('same').hash);
  // A delete names the generation it read: the record another writer replaced meanwhile is re-read first.
  await one.delete('secrets:create');
  assert.is(await bucketRecords(client(), loc, sb.handle.project, env).read('secrets:create'), null);
});

it('the salt is created once and is the same for every clone, even when they start together', async () => {
  const other: StateLocation = { ...loc, prefix: 'salted' };
  const salts = await Promise.all([1, 2, 3].map(() => bucketRecords(client(), other, sb.handle.project, env).salt()));
  assert.match(salts[0]!, /^[0-9a-f]{64}$/);
  assert.equal(salts, [salts[0], salts[0], salts[0]]);
});

it('the lease lock: a second run refuses naming the holder; released, it is free; renewed, it does not expire', async () => {
  const lock = bucketLock(client(), loc, sb.handle.project, 'production', { leaseSeconds: 1, warn: () => {} });
  const held = await lock.acquire({ command: 'pnpm task deploy:all --env=production' });
  assert.is(held.tookOver, undefined);
  const holder = await lock.holder();
  assert.is(holder?.pid, process.pid);
  assert.is(holder?.host, os.hostname());
  const other = bucketLock(client(), loc, sb.handle.project, 'production', { leaseSeconds: 1, warn: () => {} });
  try {
    await other.acquire({ command: 'pnpm task sql:stop' });
    assert.unreachable('the second run got the lock');
  } catch (error) {
    assert.instance(error, UserError);
    assert.match((error as Error).message, `Another run holds the lock gs://${loc.bucket}/gcp-tasks/${sb.handle.project}/production/lock.json: pid ${process.pid}`);
    assert.match((error as Error).message, 'pnpm task deploy:all --env=production');
  }
  // Past three leases of 1 s, renewal kept it: waiting with a timeout still finds it held.
  try {
    await other.acquire({ command: 'pnpm task sql:stop', timeoutMs: 3000 });
    assert.unreachable('the lease expired although its run lives');
  } catch (error) {
    assert.instance(error, UserError);
  }
  await held.release();
  assert.is(await lock.holder(), null);
  const next = await other.acquire({ command: 'pnpm task sql:stop' });
  assert.is(next.tookOver, undefined);
  await next.release();
});

it('an expired lease (its run crashed) is taken over and said so; a CI job is named', async () => {
  const lock = bucketLock(client(), loc, sb.handle.project, 'staging', { leaseSeconds: 60, warn: () => {} });
  const name = `gcp-tasks/${sb.handle.project}/staging/lock.json`;
  const crashed = { pid: 4242, host: 'ci-runner-7', user: 'runner', command: 'pnpm task deploy:all', startedAt: new Date(Date.now() - 600_000).toISOString(), ciJob: 'https://github.com/acme/app/actions/runs/99', expiresAt: new Date(Date.now() - 1000).toISOString() };
  await client().write(loc.bucket, name, JSON.stringify(crashed), '0');
  assert.match((await lock.holder())?.ciJob ?? '', 'actions/runs/99');
  const held = await lock.acquire({ command: 'pnpm task status' });
  assert.is(held.tookOver?.holder.pid, 4242);
  assert.match(held.tookOver?.why ?? '', `lease expired at ${crashed.expiresAt}`);
  await held.release();
});

it.run();
