// Ownership is a label, never a name. A bucket made by hand (with an object in it) and another team's
// production secret `database-password` (no labels) survive setup and buckets:create with a name override,
// setup --env=production, cleanup --all --yes, its dry run and resource:delete: each refusal names the
// resource, changes nothing and offers -- --adopt; status shows them as not managed. Adopted, they are
// labelled and then behave like the tool's own.
import { writeFileSync } from 'node:fs';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { isMutating, out, setupSandbox, show, summary, type SetupSandbox } from './helpers.js';

const test = gcloudTests('ownership tests');

let s: SetupSandbox;
const bucket = 'team-shared-uploads';
const secret = 'database-password';
const secretValue = 'other-teams-password-0123456789';
const override = { GCS_BUCKET_UPLOADS: bucket };

test.before(async () => {
  s = await setupSandbox();
  const ok = async (args: string[], stdin?: string) => {
    const r = await s.gcloud(args, stdin);
    assert.is(r.code, 0, `gcloud ${args.join(' ')}\n${r.stderr}`);
  };
  await ok(['services', 'enable', 'storage.googleapis.com', 'secretmanager.googleapis.com']);
  await ok(['storage', 'buckets', 'create', `gs://${bucket}`, `--location=${s.sandbox.region}`]);
  const file = `${s.dir}/report.txt`;
  writeFileSync(file, 'quarterly numbers\n');
  await ok(['storage', 'cp', file, `gs://${bucket}/uploads/report.txt`]);
  await ok(['secrets', 'create', secret, '--replication-policy=automatic', '--data-file=-'], secretValue);
});
test.after(async () => {
  await s?.stop();
});

/** The hand-made resources exactly as made: no labels, no lifecycle rules, the object and the value kept. */
async function assertUntouched(): Promise<void> {
  const b = await s.json(['storage', 'buckets', 'describe', `gs://${bucket}`, '--raw']);
  assert.equal(b.labels ?? {}, {}, 'bucket not relabelled');
  assert.equal(b.lifecycle?.rule ?? [], [], 'no lifecycle rule added');
  assert.not.ok(b.iamConfiguration?.uniformBucketLevelAccess?.enabled, 'access mode unchanged');
  assert.match((await s.gcloud(['storage', 'ls', `gs://${bucket}/uploads/`])).stdout, `gs://${bucket}/uploads/report.txt`, 'the object is still there');
  const sec = await s.json(['secrets', 'describe', secret]);
  assert.equal(sec.labels ?? {}, {}, 'secret not relabelled');
  const value = await s.gcloud(['secrets', 'versions', 'access', 'latest', `--secret=${secret}`]);
  assert.is(value.stdout, secretValue, 'the value is the other team\'s');
}

/** No write request reached the hand-made resources since the last clear. */
async function assertNoWrites(): Promise<void> {
  const writes = (await s.requests()).filter((q) => isMutating(q) && (q.path.includes(`/b/${bucket}`) || q.path.includes(`/secrets/${secret}`)));
  assert.equal(writes.map((q) => `${q.method} ${q.path}`), []);
}

test('buckets:create with a name override refuses a hand-made bucket, names it and offers --adopt', async () => {
  await s.clearRequests();
  const r = await s.task(['buckets:create', '--json'], { env: override });
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === 'buckets:create')!;
  assert.match(failed.error!, `bucket ${bucket} exists but was not created by gcp-tasks`);
  assert.match(failed.error!, 'Nothing was changed');
  assert.match(out(r), /pnpm task buckets:create --env=development --sandbox -- --adopt/);
  assert.match(out(r), /adopt: true/);
  await assertNoWrites();
  await assertUntouched();
});

test('setup with the name override refuses the hand-made bucket the same way, before changing it', async () => {
  await s.clearRequests();
  const r = await s.task(['setup', '--json'], { env: override });
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === 'buckets:create')!;
  assert.is(failed.status, 'failed');
  assert.match(failed.error!, `bucket ${bucket} exists but was not created by gcp-tasks`);
  assert.match(out(r), /pnpm task buckets:create --env=development --sandbox -- --adopt/);
  await assertNoWrites();
  await assertUntouched();
});

test('setup --env=production refuses the other team\'s database-password secret and changes nothing of it', async () => {
  await s.clearRequests();
  const r = await s.task(['setup', '--env=production', '--json']);
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === 'secrets:create')!;
  assert.is(failed.status, 'failed');
  assert.match(failed.error!, `secret ${secret} exists but was not created by gcp-tasks`);
  assert.match(out(r), /pnpm task secrets:create --env=production --sandbox -- --adopt/);
  await assertNoWrites();
  await assertUntouched();
});

test('cleanup (dry run and --all --yes, with and without the override) lists them as not managed and deletes neither', async () => {
  const dry = await s.task(['cleanup', '--env=production', '--', '--dry-run']);
  assert.is(dry.code, 0, show(dry));
  assert.match(dry.stderr, `left alone: ${secret} (not managed (no labels): adopt or delete by hand)`);
  assert.not.match(dry.stderr.slice(dry.stderr.indexOf('Would delete')), `Secret Manager secret ${secret}\n`);

  await s.clearRequests();
  for (const [args, env] of [[['cleanup', '--env=production', '--yes', '--', '--all']], [['cleanup', '--yes', '--', '--all'], override], [['cleanup', '--yes', '--', '--all']]] as [string[], Record<string, string>?][]) {
    const r = await s.task(args, { env });
    assert.is(r.code, 0, show(r));
    assert.match(out(r), /Left alone/);
  }
  const withOverride = await s.task(['cleanup', '--', '--dry-run'], { env: override });
  assert.match(withOverride.stderr, `left alone: ${bucket} (not managed (no labels): adopt or delete by hand)`);
  await assertNoWrites();
  await assertUntouched();
});

test('resource:delete refuses both, with and without the override', async () => {
  await s.clearRequests();
  for (const [args, env] of [
    [['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`], override],
    [['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`]],
    [['resource:delete', '--env=production', '--yes', '--', '--type=secret', `--name=${secret}`]],
  ] as [string[], Record<string, string>?][]) {
    const r = await s.task(args, { env });
    assert.is(r.code, 1, show(r));
    assert.match(out(r), /not managed/);
  }
  const named = await s.task(['resource:delete', '--env=production', '--yes', '--', '--type=secret', `--name=${secret}`]);
  assert.match(out(named), `${secret} is not managed (no labels)`);
  assert.match(out(named), /pnpm task secrets:create --env=production --sandbox -- --adopt/);
  await assertNoWrites();
  await assertUntouched();
});

test('status shows each as not managed (no labels) with the adopt command, neither missing nor ok', async () => {
  const reportOf = (r: Awaited<ReturnType<typeof s.task>>) =>
    (summary(r).tasks.find((t) => t.name === 'status') as unknown as { outputs: { items: { name: string; state: string; summary: string; fix: string | null }[] } }).outputs.items;
  for (const [args, env, name, task] of [
    [['status', '--json'], override, bucket, 'buckets:create'],
    [['status', '--env=production', '--json'], undefined, secret, 'secrets:create'],
  ] as [string[], Record<string, string> | undefined, string, string][]) {
    const r = await s.task(args, { env });
    assert.is(r.code, 0, show(r));
    const item = reportOf(r).find((i) => i.name === name);
    assert.ok(item, `status lists ${name}`);
    assert.is(item!.state, 'not-managed', JSON.stringify(item));
    assert.match(item!.summary, 'not managed (no labels)');
    assert.match(item!.fix ?? '', `pnpm task ${task} -- --adopt`);
    assert.match(r.stderr, new RegExp(`\\? ${name}\\s+NOT-MANAGED\\s+not managed \\(no labels\\)`));
  }
  await assertUntouched();
});

test('adopted with -- --adopt, they are labelled (value and object kept) and then deleted like the tool\'s own', async () => {
  const b = await s.task(['buckets:create', '--', '--adopt'], { env: override });
  assert.is(b.code, 0, show(b));
  assert.match(out(b), `adopting bucket ${bucket}`);
  const described = await s.json(['storage', 'buckets', 'describe', `gs://${bucket}`, '--raw']);
  assert.equal(described.labels, s.infra().labels);
  assert.match((await s.gcloud(['storage', 'ls', `gs://${bucket}/uploads/`])).stdout, `gs://${bucket}/uploads/report.txt`, 'the object is kept');

  const sec = await s.task(['secrets:create', '--env=production', '--', '--adopt']);
  assert.is(sec.code, 0, show(sec));
  assert.equal((await s.json(['secrets', 'describe', secret])).labels, s.infra('production').labels);
  assert.is((await s.gcloud(['secrets', 'versions', 'access', 'latest', `--secret=${secret}`])).stdout, secretValue, 'the existing value is kept');

  // Managed now: a plain run leaves them alone (no question, no refusal), deletion works.
  const again = await s.task(['buckets:create', '--force'], { env: override });
  assert.is(again.code, 0, show(again));
  const del = await s.task(['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`], { env: override });
  assert.is(del.code, 0, show(del));
  const clean = await s.task(['cleanup', '--env=production', '--yes', '--', '--all']);
  assert.is(clean.code, 0, show(clean));
  const buckets = (await s.json<any[]>(['storage', 'buckets', 'list', '--raw'])).map((x) => x.name);
  const secrets = (await s.json<any[]>(['secrets', 'list'])).map((x) => String(x.name).split('/').pop());
  assert.not.ok(buckets.includes(bucket), 'adopted bucket deleted');
  assert.not.ok(secrets.includes(secret), 'adopted secret deleted by cleanup');
});

test.run();
