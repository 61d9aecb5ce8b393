// Resources that already exist (made by hand with gcloud) are never changed until adopted; once adopted
// (-- --adopt) they are labelled and brought in line, never recreated or overwritten; drift made by hand later is found with --refresh and fixed; what Cloud SQL
// cannot change in place fails touching nothing.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { lifecycleMatches } from '../../../tasks/setup/buckets.js';
import { labelsFromDescription, serviceAccountMember } from '../../../tasks/shared/common.js';
import { isMutating, out, setupSandbox, show, summary, type CliResult, type SetupSandbox } from './helpers.js';

const test = gcloudTests('setup/existing tests');

let s: SetupSandbox;
const handMadeJwt = 'hand-made-jwt-value-0123456789';
const suppliedPassword = 'Supplied-Passw0rd-For-Test';

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const done = await r;
  assert.is(done.code, 0, show(done));
  return done;
}

test.before(async () => {
  s = await setupSandbox();
});
test.after(async () => {
  await s?.stop();
});

test('hand-made resources are refused, then adopted with -- --adopt and brought in line; supplied and existing secret values are kept', async () => {
  const { registry, buckets, serviceAccount, sql } = s.infra();
  const documents = buckets.find((b) => b.key === 'documents')!.name;
  const voice = buckets.find((b) => b.key === 'voiceModels')!.name;
  await ok(s.gcloud(['services', 'enable', 'sqladmin.googleapis.com', 'storage.googleapis.com', 'artifactregistry.googleapis.com', 'iam.googleapis.com', 'secretmanager.googleapis.com', 'cloudresourcemanager.googleapis.com']));
  await ok(s.gcloud(['artifacts', 'repositories', 'create', registry.name, '--repository-format=docker', `--location=${registry.location}`]));
  await ok(s.gcloud(['storage', 'buckets', 'create', `gs://${documents}`, `--location=${s.sandbox.region}`]));
  await ok(s.gcloud(['storage', 'buckets', 'create', `gs://${voice}`, `--location=${s.sandbox.region}`, '--uniform-bucket-level-access']));
  await s.json(['iam', 'service-accounts', 'create', serviceAccount.name, '--display-name=Hand made']);
  for (const role of ['roles/run.invoker', 'roles/logging.logWriter']) {
    await s.json(['projects', 'add-iam-policy-binding', s.sandbox.project, `--member=${serviceAccountMember(serviceAccount.email)}`, `--role=${role}`, '--condition=None']);
  }
  await ok(s.gcloud(['secrets', 'create', 'jwt-secret-dev', '--replication-policy=automatic', '--data-file=-'], handMadeJwt));
  await ok(s.gcloud(['secrets', 'create', 'refresh-secret-dev', '--replication-policy=automatic']));
  await ok(s.gcloud(['sql', 'instances', 'create', sql.instance, '--database-version=POSTGRES_15', '--tier=db-g1-small', `--region=${s.sandbox.region}`,
    '--database-flags=max_connections=25,log_min_duration_statement=500', '--no-backup']));

  const enabledBefore = (await s.json<any[]>(['services', 'list', '--enabled'])).map((x) => x.config?.name);
  const notYet = s.infra().apis.filter((a) => !enabledBefore.includes(a));
  assert.ok(notYet.length > 0 && notYet.length < s.infra().apis.length);
  // Without --adopt: every hand-made resource is named and left exactly as it was.
  await s.clearRequests();
  const refused = await s.task(['setup', '--json'], { env: { SECRET_VALUE_DATABASE_PASSWORD: suppliedPassword } });
  assert.is(refused.code, 1, show(refused));
  const failed = Object.fromEntries(summary(refused).tasks.filter((t) => t.status === 'failed').map((t) => [t.name, t.error ?? '']));
  assert.equal(Object.keys(failed).sort(), ['buckets:create', 'iam:create', 'registry:create', 'sql:create'], show(refused));
  assert.match(failed['sql:create'], new RegExp(`Cloud SQL instance \\S*${sql.instance} exists but was not created by gcp-tasks`));
  assert.match(failed['registry:create'], new RegExp(`registry \\S*${registry.name} exists but was not created by gcp-tasks`));
  assert.match(failed['buckets:create'], new RegExp(`bucket ${documents} exists but was not created by gcp-tasks`));
  assert.match(failed['buckets:create'], new RegExp(`bucket ${voice} exists but was not created by gcp-tasks`));
  assert.match(failed['iam:create'], /service account \S+ exists but was not created by gcp-tasks/);
  assert.match(out(refused), /pnpm task buckets:create --env=development --sandbox -- --adopt/);
  assert.ok(out(refused).includes(`enabling ${notYet.length} API(s): ${notYet.join(', ')}\n`), `only the APIs not enabled yet: ${notYet.join(', ')}\n${out(refused)}`);
  const refusedRequests = await s.requests();
  assert.is(refusedRequests.filter((q) => q.method === 'POST' && q.path.endsWith(':batchEnable')).length, 1, 'one enable call');
  const handMade = [registry.name, documents, voice, serviceAccount.email, 'jwt-secret-dev', 'refresh-secret-dev', `instances/${sql.instance}`];
  const touched = refusedRequests.filter((q) => isMutating(q) && handMade.some((name) => q.path.includes(name)));
  assert.equal(touched.map((q) => `${q.method} ${q.path}`), [], 'no hand-made resource was changed');

  // Adopted explicitly: labelled and brought in line.
  await s.clearRequests();
  const r = await ok(s.task(['setup', 'registry:create', 'buckets:create', 'iam:create', 'secrets:create', 'sql:create', '--json', '--', '--adopt'],
    { env: { SECRET_VALUE_DATABASE_PASSWORD: suppliedPassword } }));
  assert.ok(summary(r).ok);
  assert.match(out(r), /adopting bucket clone-documents-development/);
  const requests = await s.requests();
  assert.is(requests.filter((q) => q.path.endsWith('/repositories') && q.method === 'POST').length, 0, 'registry not recreated');
  assert.is(requests.filter((q) => q.method === 'POST' && q.path.endsWith(`/sql/v1beta4/projects/${s.sandbox.project}/instances`)).length, 0, 'instance not recreated');
  assert.is(requests.filter((q) => q.method === 'POST' && q.path.endsWith(':setIamPolicy') && q.path.includes(`/projects/${s.sandbox.project}:`)).length, 1, 'one policy write');
  const policy = await s.json(['projects', 'get-iam-policy', s.sandbox.project]);
  for (const role of serviceAccount.roles) {
    assert.is(policy.bindings.filter((b: any) => b.role === role && b.members.includes(serviceAccountMember(serviceAccount.email))).length, 1, role);
  }

  const repo = await s.json(['artifacts', 'repositories', 'describe', registry.name, `--location=${registry.location}`]);
  assert.equal(repo.labels, s.infra().labels);
  for (const name of [documents, voice]) {
    const b = await s.json(['storage', 'buckets', 'describe', `gs://${name}`, '--raw']);
    assert.is(b.iamConfiguration.uniformBucketLevelAccess.enabled, true, name);
    assert.equal(b.labels, s.infra().labels, name);
    assert.ok(lifecycleMatches(b.lifecycle, buckets.find((x) => x.name === name)!), name);
  }
  const sa = await s.json(['iam', 'service-accounts', 'describe', serviceAccount.email]);
  assert.is(sa.displayName, serviceAccount.displayName);
  assert.equal(labelsFromDescription(sa.description), s.infra().labels);

  const jwt = await s.gcloud(['secrets', 'versions', 'access', 'latest', '--secret=jwt-secret-dev']);
  assert.is(jwt.stdout, handMadeJwt, 'an existing version is never overwritten');
  assert.is((await s.json<any[]>(['secrets', 'versions', 'list', 'jwt-secret-dev'])).length, 1);
  assert.is((await s.json<any[]>(['secrets', 'versions', 'list', 'refresh-secret-dev'])).length, 1, 'a secret without a version gets its first one');
  const password = await s.gcloud(['secrets', 'versions', 'access', 'latest', '--secret=database-password-dev']);
  assert.is(password.stdout, suppliedPassword, 'the supplied value');
  assert.not.ok(out(r).includes(suppliedPassword) || r.stdout.includes(suppliedPassword), 'never printed');

  const i = await s.json(['sql', 'instances', 'describe', sql.instance]);
  assert.is(i.settings.tier, 'db-f1-micro');
  assert.equal(i.settings.databaseFlags.map((f: any) => `${f.name}=${f.value}`).sort(), ['log_min_duration_statement=500', 'max_connections=50'], 'other flags kept');
  assert.is(i.settings.backupConfiguration.enabled, true);
  assert.is(i.settings.backupConfiguration.startTime, '03:00');
  assert.equal([i.settings.maintenanceWindow.day, i.settings.maintenanceWindow.hour], [7, 4]);
  assert.is(i.settings.userLabels['managed-by'], 'gcp-tasks');
  assert.match(out(r), /~ updated\s+Cloud SQL instance .*tier db-g1-small → db-f1-micro/);
  assert.match(out(r), /~ updated\s+bucket clone-documents-development \(uniform bucket-level access; label app; label environment; label managed-by; lifecycle rules\)/);
});

test('after adoption a forced run changes nothing', async () => {
  await s.clearRequests();
  await ok(s.task(['setup', '--force-all']));
  assert.equal((await s.requests()).filter(isMutating).map((q) => `${q.method} ${q.path}`), []);
});

test('drift made by hand (lifecycle, tier) is found with --refresh and fixed; nothing else runs', async () => {
  const { sql } = s.infra();
  const uploads = s.infra().buckets.find((b) => b.key === 'uploads')!;
  const lifecycle = JSON.stringify({ rule: [{ action: { type: 'Delete' }, condition: { age: 1 } }] });
  const file = `${s.dir}/hand-lifecycle.json`;
  (await import('node:fs')).writeFileSync(file, lifecycle);
  await ok(s.gcloud(['storage', 'buckets', 'update', `gs://${uploads.name}`, `--lifecycle-file=${file}`]));
  await ok(s.gcloud(['sql', 'instances', 'patch', sql.instance, '--tier=db-g1-small']));

  const cached = await ok(s.task(['setup', '--json']));
  assert.is(summary(cached).gcloud.calls, 0, 'the cache trusts its records until asked to look');

  const r = await ok(s.task(['setup', '--refresh', '--json']));
  const ran = summary(r).tasks.filter((t) => t.status === 'ran').map((t) => t.name).sort();
  assert.equal(ran, ['buckets:create', 'setup', 'sql:create']);
  const b = await s.json(['storage', 'buckets', 'describe', `gs://${uploads.name}`, '--raw']);
  assert.ok(lifecycleMatches(b.lifecycle, uploads), JSON.stringify(b.lifecycle));
  const i = await s.json(['sql', 'instances', 'describe', sql.instance]);
  assert.is(i.settings.tier, 'db-f1-micro');
  assert.match(out(r), /~ updated\s+bucket clone-uploads-development \(lifecycle rules\)/);
});

test('a database version Cloud SQL cannot change: a clear failure, the instance untouched', async () => {
  const prod = s.infra('production');
  await ok(s.gcloud(['sql', 'instances', 'create', prod.sql.instance, '--database-version=POSTGRES_14', '--tier=db-g1-small', `--region=${s.sandbox.region}`]));
  await s.clearRequests();
  // Adopted (it was made by hand), yet what Cloud SQL cannot change in place is refused before any change.
  const r = await s.task(['sql:create', '--env=production', '--json', '--', '--adopt']);
  assert.is(r.code, 1, show(r));
  const failed = summary(r).tasks.find((t) => t.name === 'sql:create')!;
  assert.is(failed.status, 'failed');
  assert.match(failed.error!, /database version is POSTGRES_14, the config says POSTGRES_15.*Nothing was changed/);
  const touched = (await s.requests()).filter((q) => isMutating(q) && q.path.includes(`/instances/${prod.sql.instance}`));
  assert.equal(touched, []);
  const i = await s.json(['sql', 'instances', 'describe', prod.sql.instance]);
  assert.is(i.settings.tier, 'db-g1-small');
});

test.run();
