// A fresh `pnpm task setup --sandbox` through the real CLI and the real gcloud: every resource exists
// with every property of the config, read back through gcloud; the postgres password works against the
// instance's real PostgreSQL; secrets never leak; a second run makes no gcloud call (cache) and a forced
// one no mutating call.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { lifecycleConfig, lifecycleMatches } from '../../../tasks/setup/buckets.js';
import { serviceAccountMember, labelsFromDescription } from '../../../tasks/shared/common.js';
import { isMutating, out, setupSandbox, show, summary, type SetupSandbox } from './helpers.js';

const test = gcloudTests('setup/setup tests');

let s: SetupSandbox;
const secretValues: Record<string, string> = {};
let freshOutput = '';

test.before(async () => {
  s = await setupSandbox();
});
test.after(async () => {
  await s?.stop();
});

test('a fresh setup creates everything and keeps the bindings it did not make', async () => {
  // A binding somebody else made: setup must not clobber it.
  const other = await s.gcloud(['projects', 'add-iam-policy-binding', s.sandbox.project, '--member=user:alice@example.com', '--role=roles/viewer', '--condition=None', '--format=json']);
  assert.is(other.code, 0, show(other));
  const r = await s.task(['setup', '--json']);
  assert.is(r.code, 0, show(r));
  const run = summary(r);
  assert.equal(run.tasks.map((t) => [t.name, t.status]).sort(), [
    ['apis:enable', 'ran'], ['buckets:create', 'ran'], ['iam:create', 'ran'], ['registry:create', 'ran'], ['secrets:create', 'ran'], ['setup', 'ran'], ['sql:create', 'ran'], ['sql:password', 'ran'],
  ]);
  console.log(`  measured: fresh setup made ${run.gcloud.calls} gcloud calls`);
  freshOutput = out(r);
  const policy = await s.json(['projects', 'get-iam-policy', s.sandbox.project]);
  assert.ok(policy.bindings.some((b: any) => b.role === 'roles/viewer' && b.members.includes('user:alice@example.com')), 'the foreign binding survived');
});

test('APIs: every required API is enabled', async () => {
  const enabled = (await s.json<any[]>(['services', 'list', '--enabled'])).map((x) => x.config?.name);
  for (const api of s.infra().apis) assert.ok(enabled.includes(api), api);
});

test('registry: docker, in the region, labelled', async () => {
  const { registry, labels } = s.infra();
  const repo = await s.json(['artifacts', 'repositories', 'describe', registry.name, `--location=${registry.location}`]);
  assert.is(repo.format, 'DOCKER');
  assert.is(repo.name, `projects/${s.sandbox.project}/locations/${s.sandbox.region}/repositories/${registry.name}`);
  assert.equal(repo.labels, labels);
});

test('buckets: four, in the region, uniform access, labelled, lifecycle rules of the config', async () => {
  const infra = s.infra();
  assert.is(infra.buckets.length, 4);
  const described = await Promise.all(infra.buckets.map((bucket) => s.json(['storage', 'buckets', 'describe', `gs://${bucket.name}`, '--raw'])));
  for (const [i, bucket] of infra.buckets.entries()) {
    assert.match(bucket.name, /-development$/);
    const b = described[i];
    assert.is(b.location, s.sandbox.region.toUpperCase(), bucket.name);
    assert.is(b.iamConfiguration.uniformBucketLevelAccess.enabled, true, bucket.name);
    assert.equal(b.labels, infra.labels, bucket.name);
    assert.ok(lifecycleMatches(b.lifecycle, bucket), `${bucket.name}: ${JSON.stringify(b.lifecycle)}`);
  }
  // Spelled out once, so the test does not only compare the code with itself.
  const uploads = described[infra.buckets.findIndex((b) => b.name === 'clone-uploads-development')];
  const rules = uploads.lifecycle.rule.map((x: any) => `${x.action.type} ${x.condition.matchesPrefix.join()} after ${x.condition.age} days`).sort();
  assert.equal(rules, ['Delete temp/ after 30 days', 'Delete uploads/ after 90 days']);
  assert.equal(lifecycleConfig(infra.buckets[0]).rule[0].condition, { age: 90, matchesPrefix: ['temp/'] });
});

test('service account: created with its labels in the description, every role granted', async () => {
  const { serviceAccount, labels } = s.infra();
  const sa = await s.json(['iam', 'service-accounts', 'describe', serviceAccount.email]);
  assert.is(sa.displayName, serviceAccount.displayName);
  assert.equal(labelsFromDescription(sa.description), labels);
  const policy = await s.json(['projects', 'get-iam-policy', s.sandbox.project]);
  const member = serviceAccountMember(serviceAccount.email);
  for (const role of ['roles/cloudsql.client', 'roles/storage.objectAdmin', 'roles/secretmanager.secretAccessor', 'roles/run.invoker', 'roles/artifactregistry.reader', 'roles/logging.logWriter']) {
    assert.ok(policy.bindings.some((b: any) => b.role === role && b.members.includes(member) && !b.condition), role);
  }
});

test('secrets: three, labelled, one strong version each, readable by the service account', async () => {
  const { secrets, labels, serviceAccount } = s.infra();
  assert.equal(secrets.map((x) => x.name), ['jwt-secret-dev', 'refresh-secret-dev', 'database-password-dev']);
  await Promise.all(secrets.map(async (secret) => {
    const [described, versions, policy, value] = await Promise.all([
      s.json(['secrets', 'describe', secret.name]),
      s.json<any[]>(['secrets', 'versions', 'list', secret.name]),
      s.json(['secrets', 'get-iam-policy', secret.name]),
      s.gcloud(['secrets', 'versions', 'access', 'latest', `--secret=${secret.name}`]),
    ]);
    assert.equal(described.labels, labels, secret.name);
    assert.is(versions.length, 1, secret.name);
    assert.is(versions[0].state, 'ENABLED');
    assert.ok(policy.bindings?.some((b: any) => b.role === 'roles/secretmanager.secretAccessor' && b.members.includes(serviceAccountMember(serviceAccount.email))), secret.name);
    assert.is(value.code, 0, show(value));
    secretValues[secret.name] = value.stdout;
  }));
  assert.match(secretValues['database-password-dev'], /^[A-Za-z0-9]{32}$/);
  assert.is(Buffer.from(secretValues['jwt-secret-dev'], 'base64').length, 48);
  assert.is.not(secretValues['jwt-secret-dev'], secretValues['refresh-secret-dev']);
});

test('Cloud SQL: version, tier, SSD, size, auto-increase, backups, maintenance, flags, availability, labels, connection name', async () => {
  const { sql, labels } = s.infra();
  const i = await s.json(['sql', 'instances', 'describe', sql.instance]);
  assert.is(i.databaseVersion, 'POSTGRES_15');
  assert.is(i.settings.tier, 'db-f1-micro');
  assert.is(i.settings.dataDiskType, 'PD_SSD');
  assert.is(String(i.settings.dataDiskSizeGb), '10');
  assert.is(i.settings.storageAutoResize, true);
  assert.is(i.settings.backupConfiguration.enabled, true);
  assert.is(i.settings.backupConfiguration.startTime, '03:00');
  assert.equal([i.settings.maintenanceWindow.day, i.settings.maintenanceWindow.hour], [7, 4]);
  assert.equal(i.settings.databaseFlags, [{ name: 'max_connections', value: '50' }]);
  assert.is(i.settings.availabilityType, 'ZONAL');
  for (const [k, v] of Object.entries(labels)) assert.is(i.settings.userLabels[k], v, k);
  assert.is(i.connectionName, `${s.sandbox.project}:${s.sandbox.region}:${sql.instance}`);
  assert.is(sql.socketPath, `/cloudsql/${i.connectionName}`);
  const db = await s.json(['sql', 'databases', 'describe', sql.database, `--instance=${sql.instance}`]);
  assert.is(db.name, sql.database);
});

test('Cloud SQL: the postgres password is the secret value (a real login), and a wrong one is refused', async () => {
  const { sql } = s.infra();
  const i = await s.json(['sql', 'instances', 'describe', sql.instance]);
  const host = i.ipAddresses.find((a: any) => a.type === 'PRIMARY').ipAddress;
  const connect = async (password: string) => {
    const client = new pg.Client({ host, port: 5432, user: sql.user, password, database: sql.database });
    await client.connect();
    const rows = (await client.query('select 1 as one')).rows;
    await client.end();
    return rows[0].one;
  };
  assert.is(await connect(secretValues['database-password-dev']), 1);
  await connect('not-the-password').then(() => assert.unreachable('wrong password accepted'), (e) => assert.match(String(e), /password/));
});

test('secrets never appear in the output, the logs, the cache records, or on a command line', async () => {
  const values = Object.values(secretValues);
  assert.is(values.length, 3);
  for (const v of values) assert.not.ok(freshOutput.includes(v), 'CLI output');
  const stateDir = path.join(s.dir, 'task-state');
  const files = fs.readdirSync(stateDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.ok(files.length > 3, 'the run left logs and records');
  for (const f of files) {
    const text = fs.readFileSync(path.join(f.parentPath, f.name), 'utf8');
    for (const v of values) assert.not.ok(text.includes(v), `${f.name} contains a secret`);
  }
  // The task logs record every gcloud command line: no password flag and no value among them.
  const sqlLog = fs.readFileSync(path.join(stateDir, 'logs', 'sql:password.log'), 'utf8');
  assert.match(sqlLog, /set-password .*--prompt-for-password/);
  for (const log of ['sql:create.log', 'sql:password.log']) {
    assert.not.match(fs.readFileSync(path.join(stateDir, 'logs', log), 'utf8'), /--password=|--root-password/);
  }
});

test('the summary names what was created, the connection details and the next steps', () => {
  const { sql, buckets } = s.infra();
  assert.match(freshOutput, /\+ created\s+bucket clone-uploads-development/);
  assert.match(freshOutput, new RegExp(`\\+ created\\s+Cloud SQL instance ${sql.connectionName}`));
  assert.ok(freshOutput.includes(sql.socketPath), 'socket path');
  assert.ok(freshOutput.includes(`cloud-sql-proxy ${sql.connectionName}`), 'Auth Proxy use');
  for (const b of buckets) assert.ok(freshOutput.includes(`gs://${b.name}`), b.name);
  // Every next step targets what this run targeted: pasting it never reaches another project.
  assert.match(freshOutput, /pnpm task sql:pgvector --env=development --sandbox /);
  assert.match(freshOutput, /pnpm task db:migrate --env=development --sandbox -- --target=cloud/);
  assert.match(freshOutput, /pnpm task deploy:all --env=development --sandbox /);
  assert.match(freshOutput, /pnpm task status --env=development --sandbox;/);
  assert.match(freshOutput, /pnpm task sql:stop --env=development --sandbox\./);
  assert.match(freshOutput, /`pnpm task sql:create --env=development --sandbox` after changing/);
  assert.match(freshOutput, /gcloud secrets versions add NAME --data-file=-/);
});

test('a second setup is served from the cache: no gcloud call at all', async () => {
  await s.clearRequests();
  const r = await s.task(['setup', '--json']);
  assert.is(r.code, 0, show(r));
  const run = summary(r);
  assert.is(run.gcloud.calls, 0);
  assert.equal(run.tasks.filter((t) => t.status !== 'cached').map((t) => t.name), ['setup']);
  assert.equal(await s.requests(), []);
  assert.match(out(r), /= exists\s+sql:create: unchanged since its last successful run/);
  console.log(`  measured: repeated setup (cache) made ${run.gcloud.calls} gcloud calls`);
});

test('a forced setup re-checks everything live but changes nothing (reads only)', async () => {
  await s.clearRequests();
  const r = await s.task(['setup', '--force-all', '--json']);
  assert.is(r.code, 0, show(r));
  const run = summary(r);
  const requests = await s.requests();
  assert.ok(requests.length > 0, 'it did look');
  assert.equal(requests.filter(isMutating).map((q) => `${q.method} ${q.path}`), []);
  assert.not.match(out(r), /\+ created|~ updated/);
  console.log(`  measured: repeated setup (--force-all, no cache) made ${run.gcloud.calls} gcloud calls, ${requests.length} API requests, 0 mutating`);
});

test.run();
