// sql:create — the Cloud SQL PostgreSQL instance as the config describes it and the database; sql:password —
// the postgres password from Secret Manager. The instance needs neither the service account nor the secrets,
// so its creation (minutes on Google) starts right after the APIs; the password follows once the secret
// exists. An existing instance that differs is patched where Cloud SQL can change it in place; a different
// database version, disk type or region fails and touches nothing.
import { UserError } from '../../lib/engine/errors.js';
import { defineTask } from '../../lib/index.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import { registerSecret } from '../../lib/engine/redact.js';
import type { TaskContext } from '../../lib/engine/types.js';
import * as shapes from '../../lib/gcp/resources.js';
import { delay } from '../../lib/engine/wait.js';
import { taskCommand } from '../shared/hints.js';
import { createOrAdopt, guardOwnership, labelsFlag, missingLabels, recordReports, type Labels, type ResourceReport } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { readLatestSecretVersion, readSqlDatabase, readSqlInstance } from '../shared/cloud-reads.js';

type SqlConfig = ResolvedInfra['sql'];

export type SqlInstance = shapes.SqlInstance;

const weekdays = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
/** Cloud SQL numbers maintenance days 1 (Monday) … 7 (Sunday). */
const dayNumber = (day: SqlConfig['maintenanceWindow']['day']) => weekdays.indexOf(day) + 1;

/**
 * The instance label recording which version of the password secret was last set as the postgres
 * password. It makes the password step idempotent and crash-safe: a run interrupted between creating the
 * instance and setting the password sets it next time, and a new secret version is applied once.
 */
export const PASSWORD_LABEL = 'password-secret-version';

const CREATE_TIMEOUT_MS = 60 * 60_000;
const PATCH_TIMEOUT_MS = 30 * 60_000;
const PROGRESS_EVERY_MS = 20_000;

/** Flags shared by create and patch that carry the config's settings. */
function settingFlags(sql: SqlConfig) {
  return {
    tier: `--tier=${sql.tier}`,
    storageSize: `--storage-size=${sql.storageSizeGb}GB`,
    autoIncrease: sql.storageAutoIncrease ? '--storage-auto-increase' : '--no-storage-auto-increase',
    backup: `--backup-start-time=${sql.backupStartTime}`,
    maintenance: [`--maintenance-window-day=${sql.maintenanceWindow.day}`, `--maintenance-window-hour=${sql.maintenanceWindow.hour}`],
    availability: `--availability-type=${sql.availabilityType.toLowerCase()}`,
  };
}

/** Differences Cloud SQL cannot fix in place: the task refuses to touch the instance. */
export function incompatibilities(instance: SqlInstance, sql: SqlConfig, region: string): string[] {
  const problems: string[] = [];
  if (instance.databaseVersion && instance.databaseVersion !== sql.databaseVersion) problems.push(`database version is ${instance.databaseVersion}, the config says ${sql.databaseVersion}`);
  const diskType = instance.settings?.dataDiskType;
  if (diskType && diskType !== `PD_${sql.storageType}`) problems.push(`disk type is ${diskType}, the config says ${sql.storageType}`);
  if (instance.region && instance.region !== region) problems.push(`region is ${instance.region}, the config says ${region}`);
  return problems;
}

/** Differences a patch fixes: a description of each, and the patch flags (one `instances patch` call). */
export function instanceDrift(instance: SqlInstance, sql: SqlConfig, labels: Labels): { changes: string[]; flags: string[] } {
  const s = instance.settings ?? {};
  const flags = settingFlags(sql);
  const changes: string[] = [];
  const patch: string[] = [];
  const differ = (what: string, actual: unknown, wanted: unknown, ...flag: string[]) => {
    changes.push(`${what} ${actual ?? '(unset)'} → ${wanted}`);
    patch.push(...flag);
  };
  if (s.tier !== sql.tier) differ('tier', s.tier, sql.tier, flags.tier);
  if (s.availabilityType !== sql.availabilityType) differ('availability', s.availabilityType, sql.availabilityType, flags.availability);
  if (Boolean(s.storageAutoResize) !== sql.storageAutoIncrease) differ('storage auto-increase', s.storageAutoResize, sql.storageAutoIncrease, flags.autoIncrease);
  // Disks only grow (auto-increase may have grown it beyond the config): smaller is the only drift.
  if (Number(s.dataDiskSizeGb ?? 0) < sql.storageSizeGb) differ('storage size (GB)', s.dataDiskSizeGb, sql.storageSizeGb, flags.storageSize);
  const backup = s.backupConfiguration;
  if (!backup?.enabled || backup.startTime !== sql.backupStartTime) {
    differ('backups', backup?.enabled ? `at ${backup.startTime}` : 'off', `at ${sql.backupStartTime}`, flags.backup);
  }
  const window = s.maintenanceWindow;
  if (window?.day !== dayNumber(sql.maintenanceWindow.day) || window?.hour !== sql.maintenanceWindow.hour) {
    const show = (w?: { day?: number; hour?: number }) => (w?.day ? `${weekdays[w.day - 1]} ${w.hour ?? 0}h` : undefined);
    differ('maintenance window', show(window), show({ day: dayNumber(sql.maintenanceWindow.day), hour: sql.maintenanceWindow.hour }), ...flags.maintenance);
  }
  const dbFlags = s.databaseFlags ?? [];
  const maxConnections = dbFlags.find((f) => f.name === 'max_connections')?.value;
  if (maxConnections !== String(sql.maxConnections)) {
    // --database-flags replaces the whole list: keep every other flag as it is.
    const merged = [...dbFlags.filter((f) => f.name !== 'max_connections'), { name: 'max_connections', value: String(sql.maxConnections) }];
    differ('max_connections', maxConnections, sql.maxConnections, `--database-flags=${merged.map((f) => `${f.name}=${f.value}`).join(',')}`);
  }
  const missing = missingLabels(s.userLabels, labels);
  if (missing.length) differ('labels', missing.join(', '), 'set', `--update-labels=${labelsFlag(labels)}`);
  return { changes, flags: patch };
}

/** Runs a slow gcloud call while telling the user it is still going (Cloud SQL takes minutes on Google). */
async function withProgress<T>(ctx: TaskContext, what: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    ctx.log.info(`${what}: still running (${Math.floor(s / 60)}m ${s % 60}s; Cloud SQL usually takes 5–15 minutes)`);
  }, PROGRESS_EVERY_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

const describeInstance = (ctx: TaskContext) => readSqlInstance(ctx, ctx.infra.sql.instance);

/** An instance still being created (e.g. by an interrupted run) is waited for, with a bound. */
async function waitUntilCreated(ctx: TaskContext, instance: SqlInstance): Promise<SqlInstance> {
  const deadline = Date.now() + CREATE_TIMEOUT_MS;
  let current = instance;
  while (current.state === 'PENDING_CREATE') {
    if (Date.now() > deadline || ctx.signal.aborted) throw new UserError(`Cloud SQL instance ${ctx.infra.sql.instance} is still being created.`, { hint: `Run the task again later (${taskCommand(ctx, TASK.status)} shows its state).` });
    ctx.log.info(`instance ${ctx.infra.sql.instance} is being created (state PENDING_CREATE); waiting`);
    await delay(10_000, ctx.signal);
    current = (await describeInstance(ctx)) ?? current;
  }
  return current;
}

async function createInstance(ctx: TaskContext): Promise<void> {
  const { sql, labels } = ctx.infra;
  const f = settingFlags(sql);
  ctx.log.info(`creating Cloud SQL instance ${sql.instance} (${sql.databaseVersion}, ${sql.tier}, ${sql.availabilityType}); this takes several minutes on Google`);
  // Beta track: GA `sql instances create` has no --labels in gcloud 528. --edition=enterprise because
  // PostgreSQL 16+ defaults to Enterprise Plus, which has none of the shared-core/custom tiers of the config.
  await withProgress(ctx, `creating ${sql.instance}`, ctx.gcloud.mutate(['beta', 'sql', 'instances', 'create', sql.instance,
    `--database-version=${sql.databaseVersion}`, `--region=${ctx.region}`, '--edition=enterprise', f.tier, f.availability,
    `--storage-type=${sql.storageType}`, f.storageSize, f.autoIncrease, f.backup, ...f.maintenance,
    `--database-flags=max_connections=${sql.maxConnections}`, `--labels=${labelsFlag(labels)}`], { timeoutMs: CREATE_TIMEOUT_MS }))
    .catch((error: unknown) => {
      throw /reuse the name of the deleted instance/i.test(String((error as Error).message)) ? reservedNameError(sql.instance) : error;
    });
}

/** Cloud SQL keeps a deleted instance's name for about a week: cleanup then setup of the same name hits it. */
function reservedNameError(instance: string): UserError {
  return new UserError(`Cloud SQL instance name "${instance}" belongs to an instance deleted less than a week ago: Google reserves it for about a week.`, {
    hint: 'Give the instance another name in tasks.config.ts (sql.instance) and run setup again, or wait until the week has passed.',
  });
}

/**
 * The postgres password: the latest version of the password secret, with its number (`…/versions/3` →
 * "3"), in one read; registered for redaction at once. Null when the secret has no version.
 */
async function passwordFromSecret(ctx: TaskContext): Promise<{ version: string; value: string } | null> {
  const access = await ctx.gcloud.read(shapes.secretAccess, ['secrets', 'versions', 'access', 'latest', `--secret=${ctx.infra.sql.passwordSecret}`], { secretOutput: true });
  const version = access?.name?.split('/').pop();
  if (!version || access?.payload?.data === undefined) return null;
  const value = Buffer.from(access.payload.data, 'base64').toString('utf8');
  registerSecret(value);
  registerSecret(encodeURIComponent(value));
  return { version, value };
}

/**
 * Sets the postgres password without putting it on a command line: gcloud's `--prompt-for-password`
 * reads it through getpass, which reads stdin when gcloud has no terminal (see GcloudCallOptions.passwordPrompt).
 */
async function setPassword(ctx: TaskContext, password: string): Promise<void> {
  const { sql } = ctx.infra;
  await ctx.gcloud.mutate(['sql', 'users', 'set-password', sql.user, `--instance=${sql.instance}`, '--prompt-for-password'],
    { stdin: `${password}\n`, secret: true, passwordPrompt: true, json: false, timeoutMs: PATCH_TIMEOUT_MS });
  ctx.log.success(`set the ${sql.user} password from secret ${sql.passwordSecret}`);
}

async function ensureDatabase(ctx: TaskContext, fresh: boolean): Promise<ResourceReport> {
  const { sql } = ctx.infra;
  const resource = `database ${sql.database}`;
  const describe = () => readSqlDatabase(ctx, sql.instance, sql.database);
  if (!fresh && (await describe())) return { resource, state: 'unchanged', changes: [] };
  const adopted = await createOrAdopt(resource, () => ctx.gcloud.mutate(['sql', 'databases', 'create', sql.database, `--instance=${sql.instance}`], { timeoutMs: PATCH_TIMEOUT_MS }), describe);
  if (adopted) return { resource, state: 'unchanged', changes: [] };
  ctx.log.success(`created ${resource}`);
  return { resource, state: 'created', changes: [] };
}

async function ensureInstance(ctx: TaskContext): Promise<ResourceReport[]> {
  const { sql, labels } = ctx.infra;
  const resource = `Cloud SQL instance ${sql.connectionName}`;
  let instance = await describeInstance(ctx);
  if (instance) {
    guardOwnership(ctx, resource, instance.settings?.userLabels, { adopt: sql.adopt, rename: 'rename the instance in tasks.config.ts' });
    const problems = incompatibilities(instance, sql, ctx.region);
    if (problems.length) {
      throw new UserError(`${resource} cannot be brought in line with the config: ${problems.join('; ')}. Nothing was changed.`, {
        hint: 'Cloud SQL cannot change this in place: change the config to match, or export the data, delete the instance and run sql:create again.',
      });
    }
    instance = await waitUntilCreated(ctx, instance);
  }

  const drift = instance ? instanceDrift(instance, sql, labels) : { changes: [], flags: [] };
  if (instance && drift.flags.length) {
    assertPatchable(ctx, instance, resource, drift.changes);
    ctx.log.warn(`${resource} differs from the config: ${drift.changes.join('; ')}; patching`);
  }
  // An earlier attempt of the create (retried after a transient failure) may have made it: wait for it, then go on.
  if (!instance) {
    const made = await createOrAdopt(resource, () => createInstance(ctx), () => describeInstance(ctx));
    if (made) await waitUntilCreated(ctx, made);
  }
  if (instance && drift.flags.length) await patchInstance(ctx, drift.flags);
  const database = await ensureDatabase(ctx, !instance);
  const report: ResourceReport = { resource, state: !instance ? 'created' : drift.changes.length ? 'updated' : 'unchanged', changes: instance ? drift.changes : [] };
  return [report, database];
}

/** A stopped or busy instance is not patched: say what it needs and how to get there. */
function assertPatchable(ctx: TaskContext, instance: SqlInstance, resource: string, changes: string[]): void {
  const stopped = instance.settings?.activationPolicy === 'NEVER';
  if (stopped || (instance.state && instance.state !== 'RUNNABLE')) {
    throw new UserError(`${resource} needs changes (${changes.join('; ')}) but is ${stopped ? 'stopped' : instance.state}. Nothing was changed.`, {
      hint: stopped ? `Start it with: ${taskCommand(ctx, TASK.sqlStart)}, then run again.` : `Wait until it is RUNNABLE (${taskCommand(ctx, TASK.status)}), then run again.`,
    });
  }
}

const patchInstance = (ctx: TaskContext, flags: string[]) =>
  withProgress(ctx, `patching ${ctx.infra.sql.instance}`, ctx.gcloud.mutate(['beta', 'sql', 'instances', 'patch', ctx.infra.sql.instance, ...flags], { timeoutMs: PATCH_TIMEOUT_MS }));

/** The password follows the secret: set when its latest version is not the one recorded on the instance. */
async function ensurePassword(ctx: TaskContext): Promise<ResourceReport> {
  const { sql, labels } = ctx.infra;
  const resource = `${sql.user} password of ${sql.instance}`;
  const instance = await describeInstance(ctx);
  const password = await passwordFromSecret(ctx);
  if (ctx.dryRun && (!instance || !password)) {
    ctx.log.info(`would set the ${sql.user} password from secret ${sql.passwordSecret} once the instance and the secret exist`);
    return { resource, state: 'unchanged', changes: [] };
  }
  if (!instance) throw new UserError(`Cloud SQL instance ${sql.instance} does not exist.`, { hint: `Create it with: ${taskCommand(ctx, TASK.sqlCreate)}` });
  if (!password) throw new UserError(`Secret ${sql.passwordSecret} (the ${sql.user} password) has no version.`, { hint: `Create it with: ${taskCommand(ctx, TASK.secretsCreate)}` });
  if (instance.settings?.userLabels?.[PASSWORD_LABEL] === password.version) return { resource, state: 'unchanged', changes: [] };
  const change = `${sql.user} password from secret version ${password.version}`;
  assertPatchable(ctx, instance, `Cloud SQL instance ${sql.connectionName}`, [change]);
  await setPassword(ctx, password.value);
  // Last: the password label records a password that is really set.
  await patchInstance(ctx, [`--update-labels=${labelsFlag({ ...labels, [PASSWORD_LABEL]: password.version })}`]);
  return { resource, state: 'updated', changes: [change] };
}

export const sqlCreate = defineTask({
  name: TASK.sqlCreate,
  args: { adopt: 'manage an existing instance that lacks the tool\'s labels (it is labelled, then brought in line)' },
  description: 'Create the Cloud SQL PostgreSQL instance (tier by environment, SSD, backups, maintenance window, flags), its database and the postgres password',
  deps: [TASK.apisEnable],
  inputs: { config: ({ infra, region }) => ({ sql: infra.sql, labels: infra.labels, region }) },
  check: async (ctx) => {
    const instance = await describeInstance(ctx);
    return instance !== null && instanceDrift(instance, ctx.infra.sql, ctx.infra.labels).changes.length === 0;
  },
  run: async (ctx) => {
    recordReports(ctx, await ensureInstance(ctx));
    const { sql } = ctx.infra;
    return {
      instance: sql.instance,
      connectionName: sql.connectionName,
      socketPath: sql.socketPath,
      databaseVersion: sql.databaseVersion,
      tier: sql.tier,
      database: sql.database,
      user: sql.user,
      passwordSecret: sql.passwordSecret,
    };
  },
});

export const sqlPassword = defineTask({
  name: TASK.sqlPassword,
  description: 'Set the postgres password of the Cloud SQL instance from its Secret Manager secret (again whenever the secret gets a new version)',
  deps: [TASK.sqlCreate, TASK.secretsCreate],
  inputs: { config: ({ infra }) => ({ instance: infra.sql.instance, user: infra.sql.user, passwordSecret: infra.sql.passwordSecret }) },
  check: async (ctx) => {
    const { sql } = ctx.infra;
    const [instance, latest] = await Promise.all([
      readSqlInstance(ctx, sql.instance),
      readLatestSecretVersion(ctx, sql.passwordSecret),
    ]);
    const version = latest?.name.split('/').pop();
    return !!version && instance?.settings?.userLabels?.[PASSWORD_LABEL] === version;
  },
  run: async (ctx) => {
    recordReports(ctx, [await ensurePassword(ctx)]);
    return { instance: ctx.infra.sql.instance, user: ctx.infra.sql.user, passwordSecret: ctx.infra.sql.passwordSecret };
  },
});
