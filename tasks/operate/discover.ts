// Resource discovery shared by status, list, cost, resource:delete and cleanup: every resource type of the
// project queried at once (each query with its own deadline), each resource described with the details a
// person needs (sizes, object counts, tier and state, URLs, version counts) and classified by scope:
// this tool's for this environment, the other environment's, or someone else's (never touched).
import { isManaged, isOwned, labelsFromDescription, type Labels } from '../shared/common.js';
import { Deadline, probe, valueOf, type Probe } from '../shared/query.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import * as shapes from '../../lib/gcp/resources.js';
import { STATE_PURPOSE } from '../setup/state.js';
import * as reads from '../shared/cloud-reads.js';

export const resourceTypes = ['service', 'gke', 'sql', 'bucket', 'registry', 'secret', 'sa'] as const;
export type ResourceType = (typeof resourceTypes)[number];

export const typeTitles: Record<ResourceType, string> = {
  service: 'Cloud Run services',
  gke: 'GKE clusters',
  sql: 'Cloud SQL instances',
  bucket: 'Storage buckets',
  registry: 'Artifact Registry repositories',
  secret: 'Secret Manager secrets',
  sa: 'Service accounts',
};

export const typeSingular: Record<ResourceType, string> = {
  service: 'Cloud Run service',
  gke: 'GKE cluster',
  sql: 'Cloud SQL instance',
  bucket: 'Storage bucket',
  registry: 'Artifact Registry repository',
  secret: 'Secret Manager secret',
  sa: 'Service account',
};

/**
 * `managed`: labelled as this tool's, for this environment. `other-environment`: labelled for the other one.
 * `unlabelled`: named by this environment's config but without the tool's labels (someone else made it:
 * never changed or deleted until adopted). `foreign`: not this tool's.
 */
export type Scope = 'managed' | 'other-environment' | 'unlabelled' | 'foreign';

export type BucketDetails = {
  location: string;
  /** null when the size query did not answer (see sizeNote). */
  sizeBytes: number | null;
  objects: number | null;
  sizeNote: string | null;
  lifecycle: { prefix: string; ageDays: number }[];
};
export type SqlDetails = {
  state: string;
  activationPolicy: string;
  tier: string;
  databaseVersion: string;
  availabilityType: string;
  connectionName: string;
  diskGb: number;
  diskType: string;
  autoResize: boolean;
  backupStartTime: string | null;
  maxConnections: number | null;
  /** Only when asked for (cleanup); null when not queried or the query failed. */
  databases: string[] | null;
};
export type ServiceDetails = {
  url: string | null;
  ready: boolean;
  readyMessage: string | null;
  revision: string | null;
  traffic: { revision: string; percent: number }[];
  minInstances: number;
  maxInstances: number | null;
  cpu: string | null;
  memory: string | null;
  timeoutSeconds: number | null;
  serviceAccount: string | null;
  /** Plain variables (names only: values may be sensitive). */
  env: string[];
  /** Variables taken from Secret Manager: variable → secret name. */
  secretEnv: Record<string, string>;
};
export type SecretDetails = { versions: number | null };
export type ServiceAccountDetails = { email: string; displayName: string; disabled: boolean };
export type ImageDetails = { name: string; digest: string; tags: string[]; sizeBytes: number };
export type RegistryDetails = { format: string; images: ImageDetails[] | null; imagesNote: string | null; sizeBytes: number };
export type GkeDetails = { status: string; nodes: number; version: string };

type DetailsOf = {
  service: ServiceDetails;
  gke: GkeDetails;
  sql: SqlDetails;
  bucket: BucketDetails;
  registry: RegistryDetails;
  secret: SecretDetails;
  sa: ServiceAccountDetails;
};

export type Resource<T extends ResourceType = ResourceType> = {
  type: T;
  /** The id used to address it: bucket, instance, service, secret, repository or cluster name; a service account's email. */
  name: string;
  /** Region, zone, or `global`. */
  location: string;
  /** Short state: READY, RUNNABLE, STOPPED, ENABLED, … */
  state: string;
  scope: Scope;
  labels: Labels;
  details: DetailsOf[T];
};

export type Discovery = { [T in ResourceType]: Probe<Resource<T>[]> };

export interface DiscoverOptions {
  types?: readonly ResourceType[];
  deadline: Deadline;
  /** Also list each managed Cloud SQL instance's databases (cleanup shows them). */
  sqlDatabases?: boolean;
}

type Reader = Pick<TaskContext, 'rest' | 'infra' | 'project' | 'region'>;

/** Queries every requested type at once; per-resource detail queries start as early as the names are known. */
export async function discover(ctx: Reader, opts: DiscoverOptions): Promise<Partial<Discovery>> {
  const types = opts.types ?? resourceTypes;
  const finders: { [T in ResourceType]: () => Promise<Probe<Resource<T>[]>> } = {
    service: () => discoverServices(ctx, opts.deadline),
    gke: () => discoverClusters(ctx, opts.deadline),
    sql: () => discoverSql(ctx, opts.deadline, opts.sqlDatabases ?? false),
    bucket: () => discoverBuckets(ctx, opts.deadline),
    registry: () => discoverRegistries(ctx, opts.deadline),
    secret: () => discoverSecrets(ctx, opts.deadline),
    sa: () => discoverServiceAccounts(ctx, opts.deadline),
  };
  const entries = await Promise.all(types.map(async (t) => [t, await finders[t]()] as const));
  return Object.fromEntries(entries) as Partial<Discovery>;
}

/** This environment's resources of one type, or null when the type's query did not answer. */
export function managedOf<T extends ResourceType>(found: Partial<Discovery>, type: T): Resource<T>[] | null {
  const p = found[type] as Probe<Resource<T>[]> | undefined;
  return p?.state === 'ok' ? p.value.filter((r) => r.scope === 'managed') : null;
}

/** Scope from labels only: a name in the config makes a resource expected, never the tool's. */
export function scopeOf(infra: ResolvedInfra, labels: Labels, namedInConfig: boolean): Scope {
  const owner = labels.environment;
  if (owner && owner !== infra.env && (isManaged(labels, infra) || namedInConfig)) return 'other-environment';
  if (isOwned(labels, infra)) return 'managed';
  return namedInConfig ? 'unlabelled' : 'foreign';
}

/** The names this environment's config gives each type (what status expects to exist). */
export function configuredNames(infra: ResolvedInfra): Record<ResourceType, string[]> {
  return {
    service: infra.services.map((s) => s.name),
    gke: [],
    sql: [infra.sql.instance],
    bucket: infra.buckets.map((b) => b.name),
    registry: [infra.registry.name],
    secret: infra.secrets.map((s) => s.name),
    sa: [infra.serviceAccount.email],
  };
}

/** Starts a per-name query once and hands out the same promise: early starts for configured names are reused. */
function memo<T>(fn: (name: string) => Promise<T>): (name: string) => Promise<T> {
  const started = new Map<string, Promise<T>>();
  return (name) => {
    if (!started.has(name)) started.set(name, fn(name));
    return started.get(name)!;
  };
}

/**
 * A list query that did not answer with a list: nothing listed, or the type's API is off (then none of its
 * resources can exist) → an empty list; a timeout or another error stays what it is.
 */
function noneOrFailure<T>(p: Exclude<Probe<unknown>, { state: 'ok' }>): Probe<T[]> {
  return p.state === 'missing' || (p.state === 'error' && p.apiDisabled) ? { state: 'ok', value: [] } : p;
}

const lastSegment = (path: string) => path.split('/').pop() ?? path;
const asArray = <T>(v: T[] | null | undefined): T[] => (Array.isArray(v) ? v : []);

// ---------------------------------------------------------------- Cloud Run

export async function discoverServices(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'service'>[]>> {
  const listed = await probe(deadline, (timeoutMs) =>
    reads.listRunServices(ctx, { timeoutMs }),
  );
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const configured = configuredNames(ctx.infra).service;
  const value = asArray(listed.value).map((s): Resource<'service'> => {
    const labels: Labels = s.metadata?.labels ?? {};
    const details = serviceDetails(s);
    return {
      type: 'service',
      name: s.metadata.name,
      location: labels['cloud.googleapis.com/location'] || ctx.region,
      state: details.ready ? 'READY' : 'NOT_READY',
      scope: scopeOf(ctx.infra, labels, configured.includes(s.metadata.name)),
      labels,
      details,
    };
  });
  return { state: 'ok', value };
}

function serviceDetails(s: shapes.RunService): ServiceDetails {
  const template = s.spec?.template ?? {};
  const annotations = template.metadata?.annotations ?? {};
  const container = template.spec?.containers?.[0] ?? {};
  const ready = asArray(s.status?.conditions).find((c) => c.type === 'Ready');
  const env = asArray(container.env);
  const number = (v: unknown) => (v === undefined || v === null || v === '' ? null : Number(v));
  return {
    url: s.status?.url ?? null,
    ready: ready?.status === 'True',
    readyMessage: ready?.status === 'True' ? null : (ready?.message ?? null),
    revision: s.status?.latestReadyRevisionName ?? null,
    traffic: asArray(s.status?.traffic).map((t) => ({ revision: t.revisionName ?? (t.latestRevision ? 'latest' : '?'), percent: Number(t.percent ?? 0) })),
    minInstances: number(annotations['autoscaling.knative.dev/minScale']) ?? 0,
    maxInstances: number(annotations['autoscaling.knative.dev/maxScale']),
    cpu: container.resources?.limits?.cpu ?? null,
    memory: container.resources?.limits?.memory ?? null,
    timeoutSeconds: number(template.spec?.timeoutSeconds),
    serviceAccount: template.spec?.serviceAccountName ?? null,
    env: env.filter((e) => !e.valueFrom).map((e) => e.name),
    secretEnv: Object.fromEntries(env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [[e.name, e.valueFrom.secretKeyRef.name]] : []))),
  };
}

// ---------------------------------------------------------------- GKE

async function discoverClusters(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'gke'>[]>> {
  const listed = await probe(deadline, (timeoutMs) => reads.listClusters(ctx, { timeoutMs }));
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const value = asArray(listed.value).map((c): Resource<'gke'> => {
    const labels: Labels = c.resourceLabels ?? {};
    return {
      type: 'gke',
      name: c.name,
      location: c.location ?? c.zone ?? '',
      state: c.status ?? 'UNKNOWN',
      // The tool never creates clusters: only labels can make one ours.
      scope: scopeOf(ctx.infra, labels, false),
      labels,
      details: { status: c.status ?? 'UNKNOWN', nodes: Number(c.currentNodeCount ?? 0), version: c.currentMasterVersion ?? '' },
    };
  });
  return { state: 'ok', value };
}

// ---------------------------------------------------------------- Cloud SQL

export async function discoverSql(ctx: Reader, deadline: Deadline, withDatabases: boolean): Promise<Probe<Resource<'sql'>[]>> {
  const listed = await probe(deadline, (timeoutMs) => reads.listSqlInstances(ctx, { timeoutMs }));
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const configured = configuredNames(ctx.infra).sql;
  const value = await Promise.all(
    asArray(listed.value).map(async (i): Promise<Resource<'sql'>> => {
      const resource = sqlResource(ctx.infra, i, configured.includes(i.name));
      if (withDatabases && resource.scope === 'managed') {
        const dbs = await probe(deadline, (timeoutMs) => reads.listSqlDatabases(ctx, i.name, { timeoutMs }));
        resource.details.databases = valueOf(dbs)?.map((d) => d.name) ?? null;
      }
      return resource;
    }),
  );
  return { state: 'ok', value };
}

export function sqlResource(infra: ResolvedInfra, i: shapes.SqlInstance, namedInConfig: boolean): Resource<'sql'> {
  const settings = i.settings ?? {};
  const labels: Labels = settings.userLabels ?? {};
  const activationPolicy = settings.activationPolicy ?? 'ALWAYS';
  const maxConnections = asArray(settings.databaseFlags).find((f) => f.name === 'max_connections')?.value;
  return {
    type: 'sql',
    name: i.name,
    location: i.region ?? '',
    // gcloud itself shows STOPPED when the activation policy is NEVER while `state` stays RUNNABLE.
    state: activationPolicy === 'NEVER' ? 'STOPPED' : (i.state ?? 'UNKNOWN'),
    scope: scopeOf(infra, labels, namedInConfig),
    labels,
    details: {
      state: i.state ?? 'UNKNOWN',
      activationPolicy,
      tier: settings.tier ?? '',
      databaseVersion: i.databaseVersion ?? '',
      availabilityType: settings.availabilityType ?? 'ZONAL',
      connectionName: i.connectionName ?? '',
      diskGb: Number(settings.dataDiskSizeGb ?? 0),
      diskType: settings.dataDiskType ?? 'PD_SSD',
      autoResize: settings.storageAutoResize !== false,
      backupStartTime: settings.backupConfiguration?.enabled === false ? null : (settings.backupConfiguration?.startTime ?? null),
      maxConnections: maxConnections === undefined ? null : Number(maxConnections),
      databases: null,
    },
  };
}

// ---------------------------------------------------------------- Cloud Storage

export async function discoverBuckets(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'bucket'>[]>> {
  const listed = await probe(deadline, (timeoutMs) =>
    reads.listBuckets(ctx, { timeoutMs }),
  );
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const configured = configuredNames(ctx.infra).bucket;
  // The shared state bucket (state:init) holds every environment's records and lock: never this environment's to delete.
  const scopeOfBucket = (b: shapes.Bucket) => (b.labels?.purpose === STATE_PURPOSE.purpose ? 'foreign' : scopeOf(ctx.infra, b.labels ?? {}, configured.includes(b.name)));
  const buckets = asArray(listed.value).map((b) => ({ raw: b, labels: (b.labels ?? {}) as Labels, scope: scopeOfBucket(b) }));
  // Sizes of this environment's buckets only, all at once.
  const sizes = await Promise.all(buckets.map((b) => (b.scope === 'managed' ? probe(deadline, (timeoutMs) => bucketUsage(ctx, b.raw.name, timeoutMs)) : null)));
  const value = buckets.map(({ raw: b, labels, scope }, n): Resource<'bucket'> => {
    const du = sizes[n];
    const usage = du?.state === 'ok' ? du.value : du?.state === 'missing' ? { bytes: 0, objects: 0 } : null;
    const location = String(b.location ?? '').toLowerCase();
    return {
      type: 'bucket',
      name: b.name,
      location,
      state: 'READY',
      scope,
      labels,
      details: {
        location,
        sizeBytes: usage?.bytes ?? null,
        objects: usage?.objects ?? null,
        sizeNote: scope !== 'managed' ? 'not measured (not managed by this tool)' : usage ? null : du?.state === 'timed-out' ? 'size query timed out' : 'size query failed',
        lifecycle: lifecycleOf(b.lifecycle),
      },
    };
  });
  return { state: 'ok', value };
}

/** Bytes and object count of a bucket: every object listed (names and sizes only), as `gcloud storage du` does. */
async function bucketUsage(ctx: Reader, bucket: string, timeoutMs: number): Promise<{ bytes: number; objects: number } | null> {
  const objects = await reads.listObjectSizes(ctx, bucket, { timeoutMs });
  if (objects === null) return null;
  // Objects named like folders (`dir/`) are placeholders: their bytes count, they are not objects.
  return { bytes: objects.reduce((sum, o) => sum + Number(o.size ?? 0), 0), objects: objects.filter((o) => !o.name.endsWith('/')).length };
}

/** Lifecycle rules as (prefix, age) pairs: the shape of the config's rules. */
export function lifecycleOf(lifecycle: shapes.Bucket['lifecycle']): { prefix: string; ageDays: number }[] {
  const rules: { prefix: string; ageDays: number }[] = [];
  for (const rule of asArray(lifecycle?.rule)) {
    if (rule.action?.type !== 'Delete' || rule.condition?.age === undefined) continue;
    const prefixes: string[] = asArray(rule.condition.matchesPrefix);
    for (const prefix of prefixes.length ? prefixes : ['']) rules.push({ prefix, ageDays: Number(rule.condition.age) });
  }
  return rules.sort((a, b) => a.prefix.localeCompare(b.prefix) || a.ageDays - b.ageDays);
}

// ---------------------------------------------------------------- Artifact Registry

async function discoverRegistries(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'registry'>[]>> {
  const images = memo((name: string) =>
    probe(deadline, (timeoutMs) =>
      reads.listDockerImages(ctx, ctx.region, name, { timeoutMs }),
    ),
  );
  const configured = configuredNames(ctx.infra).registry;
  configured.forEach((name) => void images(name));
  const listed = await probe(deadline, (timeoutMs) => reads.listRepositories(ctx, ctx.region, { timeoutMs }));
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const value = await Promise.all(
    asArray(listed.value).map(async (r): Promise<Resource<'registry'>> => {
      const name = lastSegment(r.name ?? '');
      const labels: Labels = r.labels ?? {};
      const scope = scopeOf(ctx.infra, labels, configured.includes(name));
      const format = String(r.format ?? '');
      const found = scope === 'managed' && format === 'DOCKER' ? await images(name) : null;
      const list = found?.state === 'ok' ? asArray(found.value).map(imageDetails) : found?.state === 'missing' ? [] : null;
      return {
        type: 'registry',
        name,
        location: ctx.region,
        state: 'READY',
        scope,
        labels,
        details: {
          format,
          images: list,
          imagesNote: found === null ? null : found.state === 'timed-out' ? 'image query timed out' : found.state === 'error' ? 'image query failed' : null,
          sizeBytes: Number(r.sizeBytes ?? 0) || (list ?? []).reduce((sum, i) => sum + i.sizeBytes, 0),
        },
      };
    }),
  );
  return { state: 'ok', value };
}

/** `…/repo/api-gateway@sha256:…` → image api-gateway, digest sha256:…. */
function imageDetails(i: shapes.DockerImage): ImageDetails {
  const [pkg = '', digest = ''] = i.uri.split('@');
  return { name: lastSegment(pkg), digest, tags: i.tags ?? [], sizeBytes: Number(i.imageSizeBytes) || 0 };
}

// ---------------------------------------------------------------- Secret Manager

async function discoverSecrets(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'secret'>[]>> {
  const versions = memo((name: string) => probe(deadline, (timeoutMs) => reads.listSecretVersions(ctx, name, { timeoutMs })));
  const configured = configuredNames(ctx.infra).secret;
  configured.forEach((name) => void versions(name));
  const listed = await probe(deadline, (timeoutMs) => reads.listSecrets(ctx, { timeoutMs }));
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const value = await Promise.all(
    asArray(listed.value).map(async (s): Promise<Resource<'secret'>> => {
      const name = lastSegment(s.name ?? '');
      const labels: Labels = s.labels ?? {};
      const scope = scopeOf(ctx.infra, labels, configured.includes(name));
      const found = scope === 'managed' ? await versions(name) : null;
      // Destroyed versions are neither usable nor billed.
      const count = found?.state === 'ok' ? asArray(found.value).filter((v) => v.state !== 'DESTROYED').length : found?.state === 'missing' ? 0 : null;
      return { type: 'secret', name, location: 'global', state: 'ENABLED', scope, labels, details: { versions: count } };
    }),
  );
  return { state: 'ok', value };
}

// ---------------------------------------------------------------- IAM service accounts

async function discoverServiceAccounts(ctx: Reader, deadline: Deadline): Promise<Probe<Resource<'sa'>[]>> {
  const listed = await probe(deadline, (timeoutMs) => reads.listServiceAccounts(ctx, { timeoutMs }));
  if (listed.state !== 'ok') return noneOrFailure(listed);
  const configured = configuredNames(ctx.infra).sa;
  const value = asArray(listed.value).map((a): Resource<'sa'> => {
    // Service accounts have no labels: the tool writes them into the description.
    const labels = labelsFromDescription(a.description);
    return {
      type: 'sa',
      name: a.email,
      location: 'global',
      state: a.disabled ? 'DISABLED' : 'ENABLED',
      scope: scopeOf(ctx.infra, labels, configured.includes(a.email)),
      labels,
      details: { email: a.email, displayName: a.displayName ?? '', disabled: Boolean(a.disabled) },
    };
  });
  return { state: 'ok', value };
}
