// The pure rules behind the setup tasks: env validation, sandbox defaults, labels and the environment
// guard, IAM bindings, generated secrets, lifecycle comparison and Cloud SQL drift. No cloud, no gcloud.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../lib/engine/errors.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { infra as config } from '../../../tasks.config.js';
import { lifecycleConfig, lifecycleMatches } from '../../../tasks/setup/buckets.js';
import {
  answerOrStop, forEachResource, generateSecret, guardEnvironment, guardOwnership, hasBinding, labelsAsDescription, labelsFlag, labelsFromDescription, missingLabels,
  missingRoles, withRoles, withTempFile,
} from '../../../tasks/shared/common.js';
import { gcpEnvSchema, sandboxVars } from '../../../tasks/shared/env-schema.js';
import { taskCommand } from '../../../tasks/shared/hints.js';
import { commandFor } from '../../../lib/engine/command.js';
import { incompatibilities, instanceDrift, type SqlInstance } from '../../../tasks/setup/sql.js';

const sandbox = { project: 'digitwin-sandbox', region: 'us-central1' };
const dev = resolveInfra(config, { env: 'development', ...sandbox, vars: {} });
const prod = resolveInfra(config, { env: 'production', ...sandbox, vars: {} });

function problems(vars: Record<string, string>): Record<string, string> {
  const result = gcpEnvSchema.safeParse(vars);
  return result.success ? {} : Object.fromEntries(result.error.issues.map((i) => [i.path.join('.'), i.message]));
}

test('env: missing GCP_PROJECT_ID and GCP_REGION are both named at once', () => {
  const found = problems({});
  assert.equal(Object.keys(found).sort(), ['GCP_PROJECT_ID', 'GCP_REGION']);
  assert.match(found.GCP_PROJECT_ID, /required/);
  assert.equal(Object.keys(problems({ GCP_PROJECT_ID: '  ', GCP_REGION: '' })).sort(), ['GCP_PROJECT_ID', 'GCP_REGION']);
});

test('env: every invalid value is reported under its own key', () => {
  const found = problems({
    GCP_PROJECT_ID: 'My_Project', GCP_REGION: 'us-central', NODE_ENV: 'staging', DATABASE_PORT: '70000', DATABASE_SSL: 'yes',
    GCS_BUCKET_UPLOADS: 'Uploads!', GCS_BUCKET_DOCUMENTS: 'google-docs', CACHE_TTL_SHORT: '1.5', LOG_LEVEL: 'verbose', LOG_FORMAT: 'xml',
    ENABLE_API_DOCS: '1', CORS_ORIGIN: 'https://app.example.com/path', API_GATEWAY_URL: 'localhost:3000',
    CLOUD_SQL_CONNECTION_NAME: 'just-a-name', SECRET_VALUE_JWT_SECRET: 'short',
  });
  assert.equal(Object.keys(found).sort(), [
    'API_GATEWAY_URL', 'CACHE_TTL_SHORT', 'CLOUD_SQL_CONNECTION_NAME', 'CORS_ORIGIN', 'DATABASE_PORT', 'DATABASE_SSL', 'ENABLE_API_DOCS',
    'GCP_PROJECT_ID', 'GCP_REGION', 'GCS_BUCKET_DOCUMENTS', 'GCS_BUCKET_UPLOADS', 'LOG_FORMAT', 'LOG_LEVEL', 'NODE_ENV', 'SECRET_VALUE_JWT_SECRET',
  ]);
  assert.not.match(found.SECRET_VALUE_JWT_SECRET, /short"/, 'the secret value is not echoed');
  assert.match(found.GCP_REGION, /us-central1/, 'the message shows a valid example');
});

test('env: project id rules (length, start, end, "google")', () => {
  const bad = (id: string) => 'GCP_PROJECT_ID' in problems({ GCP_PROJECT_ID: id, GCP_REGION: 'us-central1' });
  for (const id of ['abcde', 'a'.repeat(31), '1project', 'project-', 'my-google-proj', 'UPPER-case']) assert.ok(bad(id), id);
  for (const id of ['abcdef', 'my-project-123', `a${'b'.repeat(29)}`]) assert.not.ok(bad(id), id);
});

test('env: cross-field rules (pool min ≤ max, TTLs ascending) run alongside field errors', () => {
  const found = problems({ GCP_PROJECT_ID: 'x', GCP_REGION: 'europe-west1', DATABASE_POOL_MIN: '20', DATABASE_POOL_MAX: '5', CACHE_TTL_MEDIUM: '30', CACHE_TTL_LONG: '10' });
  assert.ok(found.GCP_PROJECT_ID);
  assert.match(found.DATABASE_POOL_MIN, /DATABASE_POOL_MAX/);
  assert.match(found.CACHE_TTL_LONG, /CACHE_TTL_MEDIUM/);
});

test('env: unknown keys pass through unchanged, values stay strings', () => {
  const result = gcpEnvSchema.parse({ GCP_PROJECT_ID: 'my-project-1', GCP_REGION: 'us-east1', HOME: '/root', DATABASE_PORT: '5432' });
  assert.is(result.HOME, '/root');
  assert.is(result.DATABASE_PORT, '5432');
});

test('sandboxVars: both environments validate, development relaxed and local, production strict', () => {
  for (const env of ['development', 'production'] as const) {
    const vars: Record<string, string> = { ...sandboxVars(env, sandbox, config), GCP_PROJECT_ID: sandbox.project, GCP_REGION: sandbox.region };
    assert.equal(problems(vars), {}, env);
    assert.is(vars.NODE_ENV, env);
    assert.is(vars.CLOUD_SQL_CONNECTION_NAME, (env === 'development' ? dev : prod).sql.connectionName);
  }
  const d = sandboxVars('development', sandbox, config);
  const p = sandboxVars('production', sandbox, config);
  assert.match(d.API_GATEWAY_URL, /^http:\/\/localhost:/);
  assert.is(d.ENABLE_DEBUG_ENDPOINTS, 'true');
  assert.is(p.ENABLE_DEBUG_ENDPOINTS, 'false');
  assert.is(p.DATABASE_SSL, 'true');
  assert.is(p.DATABASE_HOST, prod.sql.socketPath);
  assert.is(p.API_GATEWAY_URL, undefined, 'production URLs come from deploy, not from defaults');
  assert.is.not(d.GCS_BUCKET_UPLOADS, p.GCS_BUCKET_UPLOADS);
});

test('labels: flag value, missing keys, description round trip', () => {
  assert.is(labelsFlag(dev.labels), 'app=digitwinlive,environment=development,managed-by=gcp-tasks');
  assert.equal(missingLabels({ app: 'digitwinlive', environment: 'development', extra: 'x' }, dev.labels), ['managed-by']);
  assert.equal(missingLabels(undefined, dev.labels), ['app', 'environment', 'managed-by']);
  assert.equal(labelsFromDescription(labelsAsDescription(dev.labels)), dev.labels);
  assert.equal(labelsFromDescription('a hand-made account'), {});
});

test('environment guard: the other environment\'s resource is refused, unlabelled or own ones pass', () => {
  guardEnvironment(dev, 'bucket x', dev.labels);
  guardEnvironment(dev, 'bucket x', undefined);
  guardEnvironment(dev, 'bucket x', { team: 'data' });
  try {
    guardEnvironment(dev, 'bucket clone-uploads-production', prod.labels);
    assert.unreachable('a development run must not touch a production resource');
  } catch (error) {
    assert.instance(error, UserError);
    assert.match((error as UserError).message, /bucket clone-uploads-production belongs to the production environment/);
    assert.match((error as UserError).hint!, /--env=production/);
  }
  assert.throws(() => guardEnvironment(prod, 'secret s', dev.labels), /belongs to the development environment/);
});

test('ownership guard: only the labels make a resource the tool\'s; adopting is explicit', () => {
  const warnings: string[] = [];
  const ctx = (args: Record<string, string | boolean> = {}, env: 'development' | 'production' = 'production') => ({
    infra: env === 'production' ? prod : dev, env, args, name: 'secrets:create', commandFor: (task: string, taskArgs?: readonly string[]) => commandFor({ env, platformFlags: ['sandbox'] }, task, taskArgs),
    log: { warn: (m: string) => warnings.push(m) } as any,
  });
  guardOwnership(ctx(), 'secret database-password', prod.labels);
  const unlabelled: (Record<string, string> | undefined)[] = [undefined, {}, { team: 'data' }, { app: 'digitwinlive', 'managed-by': 'gcp-tasks' }];
  for (const labels of unlabelled) {
    try {
      guardOwnership(ctx(), 'secret database-password', labels);
      assert.unreachable('an unlabelled resource is never the tool\'s');
    } catch (error) {
      assert.instance(error, UserError);
      assert.match((error as UserError).message, /^secret database-password exists but was not created by gcp-tasks .*Nothing was changed\.$/);
      assert.match((error as UserError).hint!, /pnpm task secrets:create --env=production --sandbox -- --adopt/);
      assert.match((error as UserError).hint!, /adopt: true/);
    }
  }
  assert.is(warnings.length, 0);
  guardOwnership(ctx({ adopt: true }), 'secret database-password', {});
  guardOwnership(ctx(), 'secret database-password', {}, { adopt: true });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /adopting secret database-password/);
  // Adopting never takes over the other environment's resource.
  assert.throws(() => guardOwnership(ctx({ adopt: true }, 'development'), 'secret s', prod.labels), /belongs to the production environment/);
});

test('hints: a next-step command repeats the run\'s --env, --sandbox and --config', () => {
  const run = (target: Parameters<typeof commandFor>[0]) => ({ commandFor: (task: string, args?: readonly string[]) => commandFor(target, task, args) });
  assert.is(taskCommand(run({ env: 'development', platformFlags: [] }), 'setup'), 'pnpm task setup --env=development');
  assert.is(taskCommand(run({ env: 'production', platformFlags: ['sandbox'] }), 'db:migrate', ['--target=cloud']),
    'pnpm task db:migrate --env=production --sandbox -- --target=cloud');
  assert.is(taskCommand(run({ env: 'production', platformFlags: [], config: 'infra/my tasks.config.ts' }), 'status'),
    "pnpm task status --env=production --config='infra/my tasks.config.ts'");
});

test('answerOrStop: the answer, or the interruption at once (Ctrl-C at a question)', async () => {
  const c = new AbortController();
  assert.is(await answerOrStop(c.signal, Promise.resolve('yes')), 'yes');
  const never = new Promise<string>(() => {});
  const pending = answerOrStop(c.signal, never);
  c.abort(new UserError('Interrupted'));
  await pending.then(() => assert.unreachable('resolved'), (e) => assert.match((e as Error).message, 'Interrupted'));
  await answerOrStop(c.signal, Promise.resolve(true)).then(() => assert.unreachable('asked after the interrupt'), (e) => assert.instance(e, UserError));
});

test('IAM: only unconditional bindings of the member count', () => {
  const member = 'serviceAccount:sa@p.iam.gserviceaccount.com';
  const policy = {
    bindings: [
      { role: 'roles/run.invoker', members: ['user:a@b.c', member] },
      { role: 'roles/cloudsql.client', members: [member], condition: { title: 'only at night', expression: 'true' } },
      { role: 'roles/storage.objectAdmin', members: ['serviceAccount:other@p.iam.gserviceaccount.com'] },
    ],
  };
  assert.ok(hasBinding(policy, 'roles/run.invoker', member));
  assert.equal(missingRoles(policy, ['roles/run.invoker', 'roles/cloudsql.client', 'roles/storage.objectAdmin'], member), ['roles/cloudsql.client', 'roles/storage.objectAdmin']);
  assert.equal(missingRoles(null, ['roles/a'], member), ['roles/a']);
});

test('IAM: withRoles adds the member to each role and keeps every other binding, condition and the etag', () => {
  const member = 'serviceAccount:sa@p.iam.gserviceaccount.com';
  const conditional = { role: 'roles/cloudsql.client', members: [member], condition: { title: 'night', expression: 'true' } };
  const policy = {
    etag: 'BwYAAAAAAAA=', version: 3, auditConfigs: [{ service: 'allServices' }],
    bindings: [{ role: 'roles/run.invoker', members: ['user:a@b.c'] }, conditional, { role: 'roles/owner', members: ['user:o@b.c'] }],
  };
  const next = withRoles(policy, ['roles/run.invoker', 'roles/cloudsql.client'], member);
  assert.is(next.etag, 'BwYAAAAAAAA=');
  assert.equal(next.auditConfigs, policy.auditConfigs);
  assert.equal(next.bindings, [
    { role: 'roles/run.invoker', members: ['user:a@b.c', member] },
    conditional,
    { role: 'roles/owner', members: ['user:o@b.c'] },
    { role: 'roles/cloudsql.client', members: [member] },
  ]);
  assert.equal(policy.bindings[0].members, ['user:a@b.c'], 'the policy read is not modified');
  assert.equal(missingRoles(next, ['roles/run.invoker', 'roles/cloudsql.client'], member), []);
});

test('secrets: generated values are long, random and of the promised alphabet', () => {
  const passwords = Array.from({ length: 200 }, () => generateSecret('random-password-32'));
  for (const p of passwords) assert.match(p, /^[A-Za-z0-9]{32}$/);
  assert.is(new Set(passwords).size, passwords.length);
  const jwt = generateSecret('random-base64-48');
  assert.is(Buffer.from(jwt, 'base64').length, 48);
  // Every character class shows up across 200 passwords (a biased or truncated alphabet would not).
  const all = passwords.join('');
  for (const c of ['A', 'Z', 'a', 'z', '0', '9']) assert.ok(all.includes(c), c);
});

test('withTempFile: private while in use, removed afterwards (also on failure)', async () => {
  let seen = '';
  await withTempFile('x.json', '{"a":1}', async (file) => {
    seen = file;
    assert.is(readFileSync(file, 'utf8'), '{"a":1}');
    assert.is(statSync(file).mode & 0o777, 0o600);
  });
  assert.not.ok(existsSync(seen));
  await withTempFile('y.json', '', async (file) => {
    seen = file;
    throw new Error('boom');
  }).catch(() => {});
  assert.not.ok(existsSync(seen));
});

test('forEachResource: every item runs; one error names each failed item', async () => {
  const done: number[] = [];
  try {
    await forEachResource([1, 2, 3, 4], (n) => `item ${n}`, async (n) => {
      if (n % 2 === 0) throw new UserError(`failed ${n}`, { hint: 'fix it' });
      done.push(n);
    });
    assert.unreachable();
  } catch (error) {
    assert.equal(done.sort(), [1, 3]);
    assert.match((error as Error).message, /2 of 4 failed:\n {2}item 2: failed 2\n {2}item 4: failed 4/);
    assert.is((error as UserError).hint, 'fix it');
  }
});

test('lifecycle: the config as rules with matchesPrefix; comparison ignores order and key order', () => {
  const uploads = dev.buckets.find((b) => b.key === 'uploads')!;
  assert.equal(lifecycleConfig(uploads).rule, [
    { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['temp/'] } },
    { action: { type: 'Delete' }, condition: { age: 90, matchesPrefix: ['uploads/'] } },
  ]);
  const reversed = { rule: [{ condition: { matchesPrefix: ['uploads/'], age: 90 }, action: { type: 'Delete' } }, { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['temp/'] } }] };
  assert.ok(lifecycleMatches(reversed, uploads));
  assert.not.ok(lifecycleMatches({ rule: [reversed.rule[0]] }, uploads));
  assert.not.ok(lifecycleMatches({ rule: [...reversed.rule, { action: { type: 'Delete' }, condition: { age: 1 } }] }, uploads));
  assert.not.ok(lifecycleMatches(undefined, uploads));
});

function instanceAsConfigured(sql = dev.sql): SqlInstance {
  return {
    name: sql.instance,
    databaseVersion: sql.databaseVersion,
    region: 'us-central1',
    state: 'RUNNABLE',
    settings: {
      tier: sql.tier, availabilityType: sql.availabilityType, dataDiskType: 'PD_SSD', dataDiskSizeGb: String(sql.storageSizeGb + 5),
      storageAutoResize: true, backupConfiguration: { enabled: true, startTime: sql.backupStartTime }, maintenanceWindow: { day: 7, hour: 4 },
      databaseFlags: [{ name: 'log_min_duration_statement', value: '500' }, { name: 'max_connections', value: String(sql.maxConnections) }],
      userLabels: { ...dev.labels },
    },
  };
}

test('Cloud SQL: an instance as configured has no drift (a grown disk is fine)', () => {
  assert.equal(instanceDrift(instanceAsConfigured(), dev.sql, dev.labels), { changes: [], flags: [] });
  assert.equal(incompatibilities(instanceAsConfigured(), dev.sql, 'us-central1'), []);
});

test('Cloud SQL: drift becomes patch flags; other database flags are kept', () => {
  const instance = instanceAsConfigured();
  instance.settings!.tier = 'db-g1-small';
  instance.settings!.databaseFlags = [{ name: 'log_min_duration_statement', value: '500' }, { name: 'max_connections', value: '25' }];
  instance.settings!.backupConfiguration = { enabled: false };
  instance.settings!.maintenanceWindow = { day: 1, hour: 4 };
  const drift = instanceDrift(instance, dev.sql, dev.labels);
  assert.equal(drift.flags, [
    '--tier=db-f1-micro', '--backup-start-time=03:00', '--maintenance-window-day=SUN', '--maintenance-window-hour=4',
    '--database-flags=log_min_duration_statement=500,max_connections=50',
  ]);
  assert.is(drift.changes.length, 4);
  assert.match(drift.changes[0], /tier db-g1-small → db-f1-micro/);
});

test('Cloud SQL: version, disk type and region cannot change in place', () => {
  const instance = instanceAsConfigured();
  instance.databaseVersion = 'POSTGRES_14';
  instance.settings!.dataDiskType = 'PD_HDD';
  const found = incompatibilities(instance, dev.sql, 'europe-west1');
  assert.is(found.length, 3);
  assert.match(found[0], /POSTGRES_14.*POSTGRES_15/);
});

test.run();
