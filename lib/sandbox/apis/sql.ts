// Cloud SQL Admin v1beta4: instances (insert, get, list, patch, delete, restart), databases, users, operations.
//
// Every instance whose activation policy is ALWAYS is backed by a real PostgreSQL with pgvector
// (lib/postgres/embedded.ts) listening on its own loopback address 127.0.0.x:5432 (10 ≤ x ≤ 250, first pick
// derived from the sandbox folder; an address whose port 5432 is taken by another program is skipped, and an
// instance whose address got taken while it was stopped moves), reported as the PRIMARY address. Its data lives in
// `<stateDir>/sql/<project>/<instance>`. The `postgres` password set through the API (rootPassword on insert,
// users update) is the one the server accepts (SCRAM-SHA-256); only its SCRAM verifier is kept in the state. `patch` to NEVER
// really stops the server, ALWAYS brings it back with its data, delete removes server and data, and a
// restarted sandbox brings back the servers of its running instances.
//
// Databases: the embedded server is a single PostgreSQL database, so every database created through the API
// is another name for that same database (connecting with `dbname=<any created database>` works, an unknown
// name is refused with `database "x" does not exist`; all names share tables). Deleting a database only
// removes the name. Only the built-in `postgres` user exists (users list / set-password).
//
// Operations are real long-running operations: PENDING in the answer, RUNNING while the simulated duration
// runs or the server is still starting/stopping, then DONE (with `error` when the server could not start).
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { sqlInstance, sqlSettings, sqlUser } from '../../gcp/resources.js';
import {
  ApiError, findOperation, invalidArgument, isRegion, isZone, notFound, ok, onOperationDone, paginate, parseBody, startOperation, timestamp, validateLabels,
  type OperationRecord,
} from '../google.js';
import { PortInUseError, startEmbeddedPostgres, type EmbeddedPostgres } from '../../postgres/embedded.js';
import { isScramVerifier, scramVerifier } from '../../postgres/scram.js';
import { requireApi } from './serviceusage.js';
import type { ApiContext, ApiModule, LatencyKind, ProjectState, Route, SandboxRequest } from '../types.js';

const API = 'sqladmin.googleapis.com';
const BASE = '/sql/v1beta4/projects/{project}';
const POSTGRES_PORT = 5432;
const FIRST_HOST = 10;
const LAST_HOST = 250;
const ROOT_USER = 'postgres';

/**
 * Settings as a request sends them and as the instance keeps them. A patch removes a user label with null;
 * the objects a patch merges into the current ones may be null (nothing to merge).
 */
const settingsSchema = sqlSettings.extend({
  userLabels: z.record(z.string(), z.string().nullable()).optional(),
  backupConfiguration: sqlSettings.shape.backupConfiguration.nullable(),
  maintenanceWindow: sqlSettings.shape.maintenanceWindow.nullable(),
  ipConfiguration: sqlSettings.shape.ipConfiguration.nullable(),
  locationPreference: z.looseObject({ zone: z.string().optional() }).nullish(),
});
type Settings = z.infer<typeof settingsSchema>;
/** Insert and patch bodies (`rootPassword` is checked by the handler). */
const instanceBody = sqlInstance.partial().extend({ settings: settingsSchema.optional() });
/** `name` is checked by the handler. */
const databaseBody = z.looseObject({ charset: z.string().optional(), collation: z.string().optional() });
/** `password` is checked by the handler. */
const userBody = sqlUser.partial();

interface InstanceRecord {
  name: string;
  databaseVersion: string;
  region: string;
  gceZone: string;
  state: 'PENDING_CREATE' | 'RUNNABLE' | 'PENDING_DELETE';
  createTime: string;
  settings: Settings;
  /** Loopback address of the embedded server (127.0.0.x). */
  ipAddress: string;
  /** SCRAM-SHA-256 verifier of each user's password; absent = no password set yet (nobody can log in). */
  users: Record<string, { passwordHash?: string }>;
  databases: Record<string, { charset: string; collation: string }>;
}

export interface SqlState {
  instances: Record<string, InstanceRecord>;
  /** Names of deleted instances → when their deletion finished: Google reserves a name for about a week. */
  deletedNames?: Record<string, string>;
}

const WEEK_SECONDS = 7 * 86_400;

/** How long a deleted instance's name stays reserved: a week, as on Google (SANDBOX_SQL_NAME_RESERVED_SECONDS for tests). */
function nameReservationMs(): number {
  const raw = process.env.SANDBOX_SQL_NAME_RESERVED_SECONDS;
  const seconds = raw === undefined || raw === '' ? WEEK_SECONDS : Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : WEEK_SECONDS * 1000;
}

const sqlOf = (project: ProjectState): SqlState => (project.sql ??= { instances: {} });

// ------------------------------------------------------------------------------------- running servers

/** What runs for one sandbox (one ApiContext): the servers and the async work of pending operations. */
class Runtime {
  readonly servers = new Map<string, EmbeddedPostgres>();
  /** Start/stop/remove of one instance run one after another. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Operation id → work still running (an operation is not DONE before its work is). */
  readonly pending = new Set<string>();

  enqueue(key: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(key) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => {});
    this.chains.set(key, settled);
    return next;
  }

  async idle(): Promise<void> {
    await Promise.all(this.chains.values());
  }
}

const runtimes = new WeakMap<ApiContext, Runtime>();
const runtimeOf = (ctx: ApiContext): Runtime => {
  let rt = runtimes.get(ctx);
  if (!rt) runtimes.set(ctx, (rt = new Runtime()));
  return rt;
};

const keyOf = (projectId: string, instance: string) => `${projectId}/${instance}`;
const dataDirOf = (ctx: ApiContext, projectId: string, instance: string) => path.join(ctx.stateDir, 'sql', projectId, instance);

function liveInstance(ctx: ApiContext, projectId: string, name: string): InstanceRecord | undefined {
  return ctx.state.projects[projectId]?.sql?.instances?.[name];
}

function usedAddresses(ctx: ApiContext, except?: InstanceRecord): Set<string> {
  const used = new Set<string>();
  for (const project of Object.values(ctx.state.projects)) {
    for (const inst of Object.values(project.sql?.instances ?? {})) if (inst !== except) used.add(inst.ipAddress);
  }
  return used;
}

/**
 * The first free 127.0.0.x. The search starts at an x derived from the sandbox folder, so that sandboxes
 * running side by side (parallel test runs) rarely reach for the same address.
 */
function freeAddress(ctx: ApiContext, skip: Set<string>, except?: InstanceRecord): string {
  const used = usedAddresses(ctx, except);
  const span = LAST_HOST - FIRST_HOST + 1;
  const start = createHash('sha256').update(path.resolve(ctx.stateDir)).digest().readUInt32BE(0) % span;
  for (let i = 0; i < span; i++) {
    const ip = `127.0.0.${FIRST_HOST + ((start + i) % span)}`;
    if (!used.has(ip) && !skip.has(ip)) return ip;
  }
  throw new ApiError(429, 'The sandbox has no free loopback address left for another Cloud SQL instance (127.0.0.10–250 are in use).', 'RESOURCE_EXHAUSTED');
}

function maxConnectionsOf(inst: InstanceRecord): number {
  const flag = inst.settings.databaseFlags?.find((f) => f.name === 'max_connections');
  const n = Number(flag?.value);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 500) : 100;
}

/**
 * Starts the instance's server on 127.0.0.x:5432; when that port is taken by another program, moves the
 * instance to the next free address (and says so in its ipAddresses). Resolves once it listens.
 */
async function startServer(ctx: ApiContext, projectId: string, name: string, onListening?: () => void): Promise<void> {
  const rt = runtimeOf(ctx);
  const key = keyOf(projectId, name);
  if (rt.servers.has(key)) return;
  const tried = new Set<string>();
  for (;;) {
    const inst = liveInstance(ctx, projectId, name);
    if (!inst) return;
    try {
      const server = await startEmbeddedPostgres({
        host: inst.ipAddress,
        port: POSTGRES_PORT,
        dataDir: dataDirOf(ctx, projectId, name),
        user: ROOT_USER,
        password: loginVerifier(inst.users[ROOT_USER]?.passwordHash),
        acceptDatabase: (db) => Boolean(liveInstance(ctx, projectId, name)?.databases[db]),
        maxConnections: maxConnectionsOf(inst),
        onListening,
      });
      rt.servers.set(key, server);
      return;
    } catch (err) {
      if (!(err instanceof PortInUseError)) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRNOTAVAIL') {
          throw new Error(`cannot listen on ${inst.ipAddress}:${POSTGRES_PORT}: this system has no such loopback address (on macOS: sudo ifconfig lo0 alias ${inst.ipAddress} up)`);
        }
        throw err;
      }
      tried.add(inst.ipAddress);
      if (tried.size >= 20) throw new Error(`port ${POSTGRES_PORT} is taken on ${[...tried].join(', ')}`);
      inst.ipAddress = freeAddress(ctx, tried, inst);
      ctx.save();
    }
  }
}

/**
 * The verifier the server checks: the stored one, else one of an unguessable password so nobody can log in
 * (no password set yet, as on Google, or a hash kept by an older sandbox that used md5).
 */
function loginVerifier(stored: string | undefined): string {
  return stored !== undefined && isScramVerifier(stored) ? stored : scramVerifier(randomBytes(24).toString('hex'));
}

async function stopServer(ctx: ApiContext, projectId: string, name: string): Promise<void> {
  const rt = runtimeOf(ctx);
  const key = keyOf(projectId, name);
  const server = rt.servers.get(key);
  rt.servers.delete(key);
  await server?.stop();
}

/** Stops and starts an instance's server, as Google does on a restart or a change of database flags. */
async function restartServer(ctx: ApiContext, projectId: string, name: string): Promise<void> {
  await stopServer(ctx, projectId, name);
  await startServer(ctx, projectId, name);
}

/** Runs the async side of an operation (start/stop/remove a server); the operation stays RUNNING until it ends. */
function runWork(ctx: ApiContext, op: OperationRecord, projectId: string, name: string, work: () => Promise<void>): void {
  const rt = runtimeOf(ctx);
  rt.pending.add(op.id);
  rt.enqueue(keyOf(projectId, name), work).then(
    () => rt.pending.delete(op.id),
    (err: Error) => {
      rt.pending.delete(op.id);
      op.error = { code: 13, message: `The embedded PostgreSQL of ${name} could not start: ${err.message}` };
      op.data.errorCode = 'INTERNAL_ERROR';
      ctx.save();
    },
  );
}

// ------------------------------------------------------------------------------------------ validation

const POSTGRES_VERSIONS = ['POSTGRES_9_6', 'POSTGRES_10', 'POSTGRES_11', 'POSTGRES_12', 'POSTGRES_13', 'POSTGRES_14', 'POSTGRES_15', 'POSTGRES_16', 'POSTGRES_17', 'POSTGRES_18'];
const INSTALLED_MINOR: Record<string, string> = {
  POSTGRES_9_6: '9_6_24', POSTGRES_10: '10_23', POSTGRES_11: '11_22', POSTGRES_12: '12_22', POSTGRES_13: '13_20', POSTGRES_14: '14_17',
  POSTGRES_15: '15_12', POSTGRES_16: '16_8', POSTGRES_17: '17_4', POSTGRES_18: '18_0',
};
const OTHER_ENGINES = /^(MYSQL_\d+(_\d+)*|SQLSERVER_\d{4}_(STANDARD|ENTERPRISE|EXPRESS|WEB))$/;
const INSTANCE_NAME = /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/;
const N1_SIZES: Record<string, number[]> = { standard: [1, 2, 4, 8, 16, 32, 64, 96], highmem: [2, 4, 8, 16, 32, 64, 96] };
const PERF_OPTIMIZED = [2, 4, 8, 16, 32, 48, 64, 80, 96, 128];

const versionNumber = (v: string) => Number(v.replace('POSTGRES_', '').replace('_', '.'));
const defaultEdition = (version: string) => (versionNumber(version) >= 16 ? 'ENTERPRISE_PLUS' : 'ENTERPRISE');

/** Cloud SQL's tier rules: shared-core and custom/n1 machine types for Enterprise, perf-optimized for Enterprise Plus. */
function tierProblem(tier: string, edition: string): string | null {
  if (edition === 'ENTERPRISE_PLUS') {
    const m = tier.match(/^db-perf-optimized-N-(\d+)$/);
    return m && PERF_OPTIMIZED.includes(Number(m[1])) ? null : 'not an Enterprise Plus tier (db-perf-optimized-N-<vCPUs>)';
  }
  if (tier === 'db-f1-micro' || tier === 'db-g1-small') return null;
  const n1 = tier.match(/^db-n1-(standard|highmem)-(\d+)$/);
  if (n1) return N1_SIZES[n1[1]!]!.includes(Number(n1[2])) ? null : 'no such machine size';
  const custom = tier.match(/^db-custom-(\d+)-(\d+)$/);
  if (!custom) return 'unknown tier';
  const cpus = Number(custom[1]);
  const memory = Number(custom[2]);
  if (!(cpus === 1 || (cpus % 2 === 0 && cpus >= 2 && cpus <= 96))) return 'vCPUs must be 1 or an even number from 2 to 96';
  if (memory % 256 !== 0) return 'memory must be a multiple of 256 MB';
  if (memory < 3840) return 'memory must be at least 3840 MB';
  if (memory < cpus * 922 || memory > cpus * 6656) return 'memory must be 0.9 to 6.5 GB per vCPU';
  return null;
}

function checkSettings(settings: Settings, databaseVersion: string, current?: Settings): void {
  const bad = (field: string, why: string) => invalidArgument(`Invalid request: Invalid value for settings.${field}: ${why}.`);
  const edition = settings.edition ?? current?.edition ?? defaultEdition(databaseVersion);
  if (typeof edition !== 'string' || !['ENTERPRISE', 'ENTERPRISE_PLUS'].includes(edition)) throw bad('edition', `${edition} (ENTERPRISE or ENTERPRISE_PLUS)`);
  const tier = settings.tier ?? current?.tier;
  if (!tier) throw invalidArgument('Invalid request: settings.tier is required (e.g. db-f1-micro or db-custom-1-3840).');
  const problem = tierProblem(tier, edition);
  if (problem) {
    throw invalidArgument(`Invalid request: Invalid Tier (${tier}) for (${edition}) Edition: ${problem}. Use \`gcloud sql tiers list\` to see the tiers, or set --edition.`);
  }
  if (settings.activationPolicy !== undefined && !['ALWAYS', 'NEVER'].includes(settings.activationPolicy)) {
    throw bad('activationPolicy', `${settings.activationPolicy} (ALWAYS or NEVER for PostgreSQL)`);
  }
  if (settings.availabilityType !== undefined && !['ZONAL', 'REGIONAL'].includes(settings.availabilityType)) throw bad('availabilityType', `${settings.availabilityType} (ZONAL or REGIONAL)`);
  if (settings.dataDiskType !== undefined) {
    if (!['PD_SSD', 'PD_HDD', 'HYPERDISK_BALANCED'].includes(settings.dataDiskType)) throw bad('dataDiskType', String(settings.dataDiskType));
    if (current && current.dataDiskType !== settings.dataDiskType) throw invalidArgument('Invalid request: the storage type of an instance cannot be changed after it is created.');
  }
  if (settings.dataDiskSizeGb !== undefined) {
    const size = Number(settings.dataDiskSizeGb);
    if (!Number.isInteger(size) || size < 10 || size > 65536) throw bad('dataDiskSizeGb', `${settings.dataDiskSizeGb} (10 to 65536 GB)`);
    if (current && size < Number(current.dataDiskSizeGb)) throw invalidArgument(`Invalid request: the disk size cannot be decreased (from ${current.dataDiskSizeGb} GB to ${size} GB).`);
  }
  const backup = settings.backupConfiguration;
  if (backup?.startTime !== undefined && !/^([01]\d|2[0-3]):[0-5]\d$/.test(backup.startTime)) throw bad('backupConfiguration.startTime', `${backup.startTime} (HH:MM, 24-hour UTC)`);
  const window = settings.maintenanceWindow;
  if (window?.day !== undefined && !(Number.isInteger(window.day) && window.day >= 0 && window.day <= 7)) throw bad('maintenanceWindow.day', `${window.day} (1 = Monday … 7 = Sunday)`);
  if (window?.hour !== undefined && !(Number.isInteger(window.hour) && window.hour >= 0 && window.hour <= 23)) throw bad('maintenanceWindow.hour', `${window.hour} (0 to 23)`);
  for (const flag of settings.databaseFlags ?? []) {
    if (!/^[a-z][a-z0-9_.]*$/.test(flag.name)) throw bad('databaseFlags', `flag name ${JSON.stringify(flag.name)}`);
    if (flag.name === 'max_connections' && !(Number(flag.value) >= 14 && Number(flag.value) <= 262143)) {
      throw invalidArgument(`Invalid request: Invalid flag value for max_connections: ${flag.value} (14 to 262143).`);
    }
  }
  if (settings.userLabels !== undefined) validateLabels(settings.userLabels, 'settings.userLabels');
}

// ------------------------------------------------------------------------------------------- rendering

function selfLink(ctx: ApiContext, projectId: string, suffix: string): string {
  return `${ctx.baseUrl}/sql/v1beta4/projects/${projectId}/${suffix}`;
}

function renderInstance(ctx: ApiContext, project: ProjectState, inst: InstanceRecord) {
  const projectId = project.projectId;
  const hash = createHash('sha256').update(`${projectId}/${inst.name}`).digest('hex');
  return {
    kind: 'sql#instance',
    name: inst.name,
    project: projectId,
    connectionName: `${projectId}:${inst.region}:${inst.name}`,
    databaseVersion: inst.databaseVersion,
    databaseInstalledVersion: `POSTGRES_${INSTALLED_MINOR[inst.databaseVersion] ?? inst.databaseVersion.replace('POSTGRES_', '')}`,
    maintenanceVersion: `POSTGRES_${INSTALLED_MINOR[inst.databaseVersion] ?? ''}.R20250302.00_00`,
    region: inst.region,
    gceZone: inst.gceZone,
    state: inst.state,
    backendType: 'SECOND_GEN',
    instanceType: 'CLOUD_SQL_INSTANCE',
    createTime: timestamp(inst.createTime),
    selfLink: selfLink(ctx, projectId, `instances/${inst.name}`),
    serviceAccountEmailAddress: `p${project.projectNumber}-${hash.slice(0, 6)}@gcp-sa-cloud-sql.iam.gserviceaccount.com`,
    ipAddresses: [{ type: 'PRIMARY', ipAddress: inst.ipAddress }],
    sqlNetworkArchitecture: 'NEW_NETWORK_ARCHITECTURE',
    etag: createHash('sha256').update(JSON.stringify(inst.settings)).digest('hex').slice(0, 64),
    settings: inst.settings,
  };
}

function renderOperation(ctx: ApiContext, op: OperationRecord) {
  const running = !op.done || runtimeOf(ctx).pending.has(op.id);
  const out: Record<string, unknown> = {
    kind: 'sql#operation',
    name: op.id,
    operationType: op.data.operationType,
    targetId: op.data.instance,
    targetProject: op.projectId,
    targetLink: selfLink(ctx, op.projectId, `instances/${op.data.instance}`),
    selfLink: selfLink(ctx, op.projectId, `operations/${op.id}`),
    insertTime: timestamp(op.createTime),
    startTime: timestamp(op.createTime),
    user: 'sandbox-user@example.com',
    status: running ? (op.data.fresh ? 'PENDING' : 'RUNNING') : 'DONE',
  };
  if (!running && op.endTime) out.endTime = timestamp(op.endTime);
  if (!running && op.error) {
    out.error = { kind: 'sql#operationErrors', errors: [{ kind: 'sql#operationError', code: op.data.errorCode ?? 'INTERNAL_ERROR', message: op.error.message }] };
  }
  return out;
}

function renderDatabase(ctx: ApiContext, projectId: string, inst: InstanceRecord, name: string) {
  const db = inst.databases[name]!;
  return {
    kind: 'sql#database',
    name,
    instance: inst.name,
    project: projectId,
    charset: db.charset,
    collation: db.collation,
    selfLink: selfLink(ctx, projectId, `instances/${inst.name}/databases/${name}`),
    etag: createHash('sha256').update(name).digest('hex').slice(0, 32),
  };
}

// -------------------------------------------------------------------------------------------- handlers

function projectOf(req: SandboxRequest, ctx: ApiContext): ProjectState {
  const project = ctx.project(req.params.project!);
  requireApi(ctx, project.projectId, API);
  return project;
}

function getInstance(project: ProjectState, name: string): InstanceRecord {
  const inst = sqlOf(project).instances[name];
  if (!inst) throw notFound('The Cloud SQL instance does not exist.');
  return inst;
}

/** Cloud SQL runs one operation at a time per instance. */
function checkIdle(ctx: ApiContext, project: ProjectState, name: string): void {
  const rt = runtimeOf(ctx);
  const busy = Object.values(project.operations ?? {}).some(
    (op) => op.api === 'sql' && op.data.instance === name && (!op.done || rt.pending.has(op.id)),
  );
  if (busy) throw new ApiError(409, 'Operation failed because another operation was already in progress. Try your request after the current operation is complete.', 'ABORTED');
}

function requireRunning(inst: InstanceRecord): void {
  if (inst.state !== 'RUNNABLE' || inst.settings.activationPolicy === 'NEVER') throw invalidArgument('Invalid request since instance is not running.');
}

function operation(ctx: ApiContext, project: ProjectState, instance: string, operationType: string, latency: LatencyKind | number, data: Record<string, unknown> = {}) {
  const op = startOperation(ctx, { projectId: project.projectId, api: 'sql', kind: `sql.${operationType}`, latency, data: { instance, operationType, ...data } });
  const body = renderOperation(ctx, { ...op, data: { ...op.data, fresh: true } });
  return { op, response: ok(body) };
}

function insertInstance(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const body = parseBody(instanceBody, req.json);
  const name = body.name;
  if (!name) throw invalidArgument('Invalid request: instance name (name) is required.');
  if (!INSTANCE_NAME.test(name) || project.projectId.length + 1 + name.length > 98) {
    throw invalidArgument(`Invalid request: Invalid instance name "${name}": it must start with a lowercase letter, contain only lowercase letters, digits and hyphens, not end with a hyphen, and project ID + instance ID must be at most 97 characters.`);
  }
  if (sqlOf(project).instances[name]) throw new ApiError(409, 'The Cloud SQL instance already exists.');
  const deletedAt = sqlOf(project).deletedNames?.[name];
  if (deletedAt && Date.parse(ctx.now()) - Date.parse(deletedAt) < nameReservationMs()) {
    throw new ApiError(409, "The Cloud SQL instance already exists. When you delete an instance, you can't reuse the name of the deleted instance until one week from the deletion date.");
  }
  const databaseVersion = body.databaseVersion ?? 'MYSQL_8_0';
  if (OTHER_ENGINES.test(databaseVersion)) {
    throw new ApiError(501, `The sandbox emulates Cloud SQL for PostgreSQL only; databaseVersion ${databaseVersion} is not emulated (use --database-version=POSTGRES_15 or later).`);
  }
  if (!POSTGRES_VERSIONS.includes(databaseVersion)) throw invalidArgument(`Invalid request: Invalid database version ${databaseVersion}.`);
  const region = body.region ?? 'us-central1';
  if (!isRegion(region)) throw invalidArgument(`Invalid request: Invalid region: ${region}.`);
  const settings: Settings = { ...(body.settings ?? {}) };
  checkSettings(settings, databaseVersion);
  const zone = settings.locationPreference?.zone;
  if (zone !== undefined && (!isZone(zone) || !zone.startsWith(`${region}-`))) throw invalidArgument(`Invalid request: Invalid zone ${zone} for region ${region}.`);
  const gceZone = zone ?? `${region}-a`;
  const rootPassword = body.rootPassword;
  if (rootPassword !== undefined && (typeof rootPassword !== 'string' || rootPassword === '')) throw invalidArgument('Invalid request: rootPassword must be a non-empty string.');

  const inst: InstanceRecord = {
    name,
    databaseVersion,
    region,
    gceZone,
    state: 'PENDING_CREATE',
    createTime: ctx.now(),
    ipAddress: freeAddress(ctx, new Set()),
    users: { [ROOT_USER]: rootPassword ? { passwordHash: scramVerifier(rootPassword) } : {} },
    databases: { postgres: { charset: 'UTF8', collation: 'en_US.UTF8' } },
    settings: normaliseSettings(settings, databaseVersion, gceZone),
  };
  sqlOf(project).instances[name] = inst;
  // A folder left by an earlier instance of the same name is not this instance's data.
  fs.rmSync(dataDirOf(ctx, project.projectId, name), { recursive: true, force: true });
  const { op, response } = operation(ctx, project, name, 'CREATE', 'sqlCreate');
  if (inst.settings.activationPolicy === 'ALWAYS') runWork(ctx, op, project.projectId, name, () => startServer(ctx, project.projectId, name));
  return response;
}

/** The settings as Google returns them: every default filled in. */
function normaliseSettings(s: Settings, databaseVersion: string, gceZone: string): Settings {
  const backup = s.backupConfiguration ?? {};
  return {
    kind: 'sql#settings',
    settingsVersion: '1',
    tier: s.tier,
    edition: s.edition ?? defaultEdition(databaseVersion),
    activationPolicy: s.activationPolicy ?? 'ALWAYS',
    availabilityType: s.availabilityType ?? 'ZONAL',
    pricingPlan: s.pricingPlan ?? 'PER_USE',
    replicationType: s.replicationType ?? 'SYNCHRONOUS',
    dataDiskSizeGb: String(s.dataDiskSizeGb ?? '10'),
    dataDiskType: s.dataDiskType ?? 'PD_SSD',
    storageAutoResize: s.storageAutoResize ?? true,
    storageAutoResizeLimit: String(s.storageAutoResizeLimit ?? '0'),
    backupConfiguration: {
      kind: 'sql#backupConfiguration',
      enabled: backup.enabled ?? false,
      startTime: backup.startTime ?? '00:00',
      pointInTimeRecoveryEnabled: backup.pointInTimeRecoveryEnabled ?? false,
      transactionLogRetentionDays: backup.transactionLogRetentionDays ?? 7,
      backupRetentionSettings: backup.backupRetentionSettings ?? { retentionUnit: 'COUNT', retainedBackups: 7 },
      ...backup,
    },
    maintenanceWindow: { kind: 'sql#maintenanceWindow', day: 0, hour: 0, ...(s.maintenanceWindow ?? {}) },
    databaseFlags: s.databaseFlags ?? [],
    userLabels: s.userLabels ?? {},
    // The sandbox authorises the loopback network, so tools can connect straight to the PRIMARY address.
    ipConfiguration: {
      ipv4Enabled: true,
      requireSsl: false,
      sslMode: 'ALLOW_UNENCRYPTED_AND_ENCRYPTED',
      authorizedNetworks: [{ kind: 'sql#aclEntry', name: 'sandbox-loopback', value: '127.0.0.0/8' }],
      ...(s.ipConfiguration ?? {}),
    },
    locationPreference: { kind: 'sql#locationPreference', zone: gceZone, ...(s.locationPreference ?? {}) },
    connectorEnforcement: s.connectorEnforcement ?? 'NOT_REQUIRED',
    deletionProtectionEnabled: s.deletionProtectionEnabled ?? false,
    ...Object.fromEntries(Object.entries(s).filter(([k]) => !KNOWN_SETTINGS.has(k))),
  };
}

const KNOWN_SETTINGS = new Set([
  'kind', 'settingsVersion', 'tier', 'edition', 'activationPolicy', 'availabilityType', 'pricingPlan', 'replicationType', 'dataDiskSizeGb', 'dataDiskType',
  'storageAutoResize', 'storageAutoResizeLimit', 'backupConfiguration', 'maintenanceWindow', 'databaseFlags', 'userLabels', 'ipConfiguration',
  'locationPreference', 'connectorEnforcement', 'deletionProtectionEnabled',
]);

function patchInstance(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  const body = parseBody(instanceBody, req.json);
  if (body.name !== undefined && body.name !== inst.name) throw invalidArgument(`Invalid request: the instance name cannot be changed (${inst.name} → ${body.name}).`);
  if (inst.state !== 'RUNNABLE') throw new ApiError(409, `Operation failed because the instance is ${inst.state}.`, 'ABORTED');
  checkIdle(ctx, project, inst.name);
  const patch: Settings = { ...(body.settings ?? {}) };
  if (patch.settingsVersion !== undefined && String(patch.settingsVersion) !== inst.settings.settingsVersion) {
    throw new ApiError(412, 'Precondition check failed: the settings version does not match the current settings (another change was made meanwhile).', 'FAILED_PRECONDITION');
  }
  if (body.databaseVersion !== undefined && body.databaseVersion !== inst.databaseVersion) {
    if (!POSTGRES_VERSIONS.includes(body.databaseVersion) || versionNumber(body.databaseVersion) < versionNumber(inst.databaseVersion)) {
      throw invalidArgument(`Invalid request: cannot change the database version from ${inst.databaseVersion} to ${body.databaseVersion} (only upgrades to a later PostgreSQL major version).`);
    }
  }
  checkSettings(patch, body.databaseVersion ?? inst.databaseVersion, inst.settings);

  const before = inst.settings;
  const next: Settings = { ...before };
  for (const [key, value] of Object.entries(patch)) if (key !== 'kind' && key !== 'settingsVersion') next[key] = value;
  // Labels and these objects are merged into the current ones (a label set to null is removed).
  if ('userLabels' in patch) {
    const labels = { ...before.userLabels, ...patch.userLabels };
    for (const [k, v] of Object.entries(labels)) if (v === null) delete labels[k];
    next.userLabels = labels;
  }
  if ('backupConfiguration' in patch) next.backupConfiguration = { ...before.backupConfiguration, ...patch.backupConfiguration };
  if ('maintenanceWindow' in patch) next.maintenanceWindow = { ...before.maintenanceWindow, ...patch.maintenanceWindow };
  if ('ipConfiguration' in patch) next.ipConfiguration = { ...before.ipConfiguration, ...patch.ipConfiguration };
  if ('locationPreference' in patch) next.locationPreference = { ...before.locationPreference, ...patch.locationPreference };
  next.dataDiskSizeGb = String(next.dataDiskSizeGb);
  next.settingsVersion = String(Number(before.settingsVersion) + 1);
  inst.settings = next;
  if (body.databaseVersion) inst.databaseVersion = body.databaseVersion;
  ctx.save();

  const { op, response } = operation(ctx, project, inst.name, 'UPDATE', 'sqlPatch');
  const wasOn = before.activationPolicy === 'ALWAYS';
  const isOn = next.activationPolicy === 'ALWAYS';
  const flagsChanged = JSON.stringify(before.databaseFlags) !== JSON.stringify(next.databaseFlags);
  const projectId = project.projectId;
  if (wasOn && !isOn) runWork(ctx, op, projectId, inst.name, () => stopServer(ctx, projectId, inst.name));
  else if (!wasOn && isOn) runWork(ctx, op, projectId, inst.name, () => startServer(ctx, projectId, inst.name));
  else if (isOn && flagsChanged) {
    // Changing database flags restarts the server on Google too.
    runWork(ctx, op, projectId, inst.name, () => restartServer(ctx, projectId, inst.name));
  }
  return response;
}

function deleteInstance(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  if (inst.settings.deletionProtectionEnabled) {
    throw invalidArgument(`Invalid request: The instance is protected from deletion. Disable it first: gcloud sql instances patch ${inst.name} --no-deletion-protection`);
  }
  checkIdle(ctx, project, inst.name);
  inst.state = 'PENDING_DELETE';
  const { op, response } = operation(ctx, project, inst.name, 'DELETE', 'sqlDelete');
  const projectId = project.projectId;
  runWork(ctx, op, projectId, inst.name, async () => {
    await stopServer(ctx, projectId, inst.name);
    fs.rmSync(dataDirOf(ctx, projectId, inst.name), { recursive: true, force: true });
  });
  return response;
}

function restartInstance(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  requireRunning(inst);
  checkIdle(ctx, project, inst.name);
  const { op, response } = operation(ctx, project, inst.name, 'RESTART', 'sqlPatch');
  const projectId = project.projectId;
  runWork(ctx, op, projectId, inst.name, () => restartServer(ctx, projectId, inst.name));
  return response;
}

function listInstances(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const all = Object.values(sqlOf(project).instances).sort((a, b) => a.name.localeCompare(b.name)).map((i) => renderInstance(ctx, project, i));
  const page = paginate(all, req.query.get('maxResults'), req.query.get('pageToken'), 500);
  return ok({ kind: 'sql#instancesList', ...(page.items.length ? { items: page.items } : {}), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
}

function getOperation(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const op = findOperation(ctx, req.params.operation!, project.projectId);
  if (!op || op.api !== 'sql') throw notFound(`The Cloud SQL operation ${req.params.operation} does not exist.`);
  return ok(renderOperation(ctx, op));
}

function listOperations(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const instance = req.query.get('instance');
  const ops = Object.values(project.operations ?? {})
    .filter((op) => op.api === 'sql' && (!instance || op.data.instance === instance))
    .sort((a, b) => b.createTime.localeCompare(a.createTime))
    .map((op) => renderOperation(ctx, op));
  const page = paginate(ops, req.query.get('maxResults'), req.query.get('pageToken'), 500);
  return ok({ kind: 'sql#operationsList', items: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
}

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

function insertDatabase(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  const body = parseBody(databaseBody, req.json);
  const name = body.name;
  if (typeof name !== 'string' || !DATABASE_NAME.test(name)) throw invalidArgument(`Invalid request: Invalid database name ${JSON.stringify(name ?? '')} (letters, digits, _, $ and -, at most 63 characters).`);
  requireRunning(inst);
  if (inst.databases[name]) throw new ApiError(409, `The database ${name} already exists on instance ${inst.name}.`);
  checkIdle(ctx, project, inst.name);
  return operation(ctx, project, inst.name, 'CREATE_DATABASE', 'write', {
    database: name,
    charset: body.charset ?? 'UTF8',
    collation: body.collation ?? 'en_US.UTF8',
  }).response;
}

function getDatabase(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  if (!inst.databases[req.params.database!]) throw notFound(`The database ${req.params.database} does not exist on instance ${inst.name}.`);
  return ok(renderDatabase(ctx, project.projectId, inst, req.params.database!));
}

function listDatabases(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  requireRunning(inst);
  const items = Object.keys(inst.databases).sort().map((name) => renderDatabase(ctx, project.projectId, inst, name));
  return ok({ kind: 'sql#databasesList', items });
}

function deleteDatabase(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  const name = req.params.database!;
  if (!inst.databases[name]) throw notFound(`The database ${name} does not exist on instance ${inst.name}.`);
  if (name === 'postgres') throw invalidArgument('Invalid request: the postgres database cannot be deleted.');
  requireRunning(inst);
  checkIdle(ctx, project, inst.name);
  return operation(ctx, project, inst.name, 'DELETE_DATABASE', 'write', { database: name }).response;
}

function listUsers(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  requireRunning(inst);
  const items = Object.keys(inst.users).map((name) => ({ kind: 'sql#user', name, host: '', instance: inst.name, project: project.projectId, etag: '', type: 'BUILT_IN' }));
  return ok({ kind: 'sql#usersList', items });
}

function updateUser(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const inst = getInstance(project, req.params.instance!);
  const body = parseBody(userBody, req.json);
  const name = req.query.get('name') ?? body.name;
  if (!name) throw invalidArgument('Invalid request: the user name (name) is required.');
  if (!inst.users[name]) throw notFound(`The user ${name} does not exist on instance ${inst.name}.`);
  // As Google: a built-in user's update must carry the new password (gcloud without a prompt sends none).
  const password = body.password;
  if (typeof password !== 'string' || password === '') throw invalidArgument(`Invalid request: a password is required to update user ${name}.`);
  checkIdle(ctx, project, inst.name);
  // Only the hash goes into the state (and into the operation's data).
  const passwordHash = scramVerifier(password);
  return operation(ctx, project, inst.name, 'UPDATE_USER', 'write', { user: name, passwordHash }).response;
}

// ------------------------------------------------------------------------------ operation completions

function instanceOf(ctx: ApiContext, op: OperationRecord): InstanceRecord | undefined {
  return liveInstance(ctx, op.projectId, String(op.data.instance));
}

onOperationDone('sql.CREATE', (ctx, op) => {
  const inst = instanceOf(ctx, op);
  if (inst?.state === 'PENDING_CREATE') inst.state = 'RUNNABLE';
});
onOperationDone('sql.DELETE', (ctx, op) => {
  const sql = ctx.state.projects[op.projectId]?.sql;
  const name = String(op.data.instance);
  if (sql?.instances[name]?.state === 'PENDING_DELETE') {
    delete sql.instances[name];
    (sql.deletedNames ??= {})[name] = ctx.now();
  }
});
onOperationDone('sql.CREATE_DATABASE', (ctx, op) => {
  const inst = instanceOf(ctx, op);
  if (inst) inst.databases[String(op.data.database)] = { charset: String(op.data.charset), collation: String(op.data.collation) };
});
onOperationDone('sql.DELETE_DATABASE', (ctx, op) => {
  const inst = instanceOf(ctx, op);
  if (inst) delete inst.databases[String(op.data.database)];
});
onOperationDone('sql.UPDATE_USER', (ctx, op) => {
  const inst = instanceOf(ctx, op);
  const passwordHash = op.data.passwordHash;
  if (!inst || typeof passwordHash !== 'string') return;
  inst.users[String(op.data.user)] = { passwordHash };
  runtimeOf(ctx).servers.get(keyOf(op.projectId, inst.name))?.setPassword(loginVerifier(passwordHash));
});

// ------------------------------------------------------------------------------------------ the module

const route = (method: string, path: string, handler: Route['handler'], latency?: LatencyKind): Route => ({ method, path: `${BASE}${path}`, handler, latency });

export const sql: ApiModule = {
  name: 'sql',
  routes: [
    route('POST', '/instances', insertInstance),
    route('GET', '/instances', listInstances),
    route('GET', '/instances/{instance}', (req, ctx) => {
      const project = projectOf(req, ctx);
      return ok(renderInstance(ctx, project, getInstance(project, req.params.instance!)));
    }),
    route('PATCH', '/instances/{instance}', patchInstance),
    route('DELETE', '/instances/{instance}', deleteInstance),
    route('POST', '/instances/{instance}/restart', restartInstance),
    route('POST', '/instances/{instance}/databases', insertDatabase),
    route('GET', '/instances/{instance}/databases', listDatabases),
    route('GET', '/instances/{instance}/databases/{database}', getDatabase),
    route('DELETE', '/instances/{instance}/databases/{database}', deleteDatabase),
    route('GET', '/instances/{instance}/users', listUsers),
    route('PUT', '/instances/{instance}/users', updateUser),
    route('GET', '/operations', listOperations),
    route('GET', '/operations/{operation}', getOperation),
  ],

  /** Brings back the servers of running instances; forgets data folders of instances that no longer exist. */
  async start(ctx) {
    const root = path.join(ctx.stateDir, 'sql');
    const wanted: { projectId: string; name: string }[] = [];
    const keep = new Set<string>();
    for (const project of Object.values(ctx.state.projects)) {
      for (const inst of Object.values(project.sql?.instances ?? {})) {
        keep.add(path.join(root, project.projectId, inst.name));
        if (inst.state !== 'PENDING_DELETE' && inst.settings.activationPolicy === 'ALWAYS') wanted.push({ projectId: project.projectId, name: inst.name });
      }
    }
    for (const projectDir of safeReaddir(root)) {
      for (const instDir of safeReaddir(path.join(root, projectDir))) {
        const dir = path.join(root, projectDir, instDir);
        if (!keep.has(dir)) fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    // Waits until each server listens (clients may connect at once), not until PGlite is up (seconds).
    const rt = runtimeOf(ctx);
    await Promise.all(
      wanted.map(
        ({ projectId, name }) =>
          new Promise<void>((listening) => {
            rt.enqueue(keyOf(projectId, name), () => startServer(ctx, projectId, name, listening)).then(listening, (err: Error) => {
              console.error(`[sandbox] Cloud SQL instance ${projectId}/${name}: the embedded PostgreSQL could not start: ${err.message}`);
              listening();
            });
          }),
      ),
    );
  },

  async stop(ctx) {
    const rt = runtimeOf(ctx);
    await rt.idle();
    await Promise.all([...rt.servers.values()].map((s) => s.stop()));
    rt.servers.clear();
    rt.pending.clear();
  },
};

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
