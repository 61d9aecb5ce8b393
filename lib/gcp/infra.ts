// The infrastructure as typed data: the zod schema of `infra` in tasks.config.ts, and its resolution
// for one environment. Every resource name, role, tier and rule lives in the config; tasks read the
// resolved form (ctx.infra) and never spell a name themselves.
import { z } from 'zod';
import type { EnvName } from '../engine/types.js';

/** A value that may differ per environment. */
const perEnv = <T extends z.ZodTypeAny>(schema: T) =>
  z.union([schema, z.object({ development: schema, production: schema })]);

const envNames = ['development', 'production'] as const;

// Name templates may use {env} (development|production), {suffix} (per environment, '' in production)
// and {project}. Names are validated after resolution (bucket and instance rules below).
const template = z.string().min(1);

const lifecycleRule = z.object({
  /** Object name prefix the rule applies to, e.g. `temp/`. */
  prefix: z.string().min(1),
  /** Objects older than this many days are deleted. */
  ageDays: z.number().int().positive(),
});

const bucket = z.object({
  /** Stable key used by tasks and env (`voiceModels`). */
  key: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/),
  name: template,
  /** Env variable that overrides the name (bucket names are global). */
  envVar: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  lifecycle: z.array(lifecycleRule),
  /** Manage it even though it exists without this tool's labels (it is labelled on the next run). */
  adopt: z.boolean().optional(),
});

const secret = z.object({
  name: template,
  /** Variable the services receive it as. */
  envVar: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  /** How the first version is made when the user supplies no value (env var SECRET_VALUE_<ENVVAR>). */
  generate: z.enum(['random-base64-48', 'random-password-32']),
  /** Manage it even though it exists without this tool's labels (it is labelled on the next run). */
  adopt: z.boolean().optional(),
});

const memory = z.string().regex(/^\d+(Mi|Gi)$/, 'memory like 512Mi or 1Gi');
const cpu = z.string().regex(/^(\d+(\.\d+)?|\d+m)$/, 'cpu like 1, 2 or 1000m');

const envKey = z.string().regex(/^[A-Z][A-Z0-9_]*$/);

const service = z
  .object({
    /** Base name; the Cloud Run service is `<name><suffix>`. */
    name: z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/),
    /** Build context directory relative to the app root (what is uploaded from): the app root by default. */
    context: z.string().min(1).default('.'),
    /** Dockerfile path relative to the app root (inside the build context). */
    dockerfile: z.string().min(1),
    /** Whether the service is a Node workspace package (its Dockerfile gets the workspace checks); false for Python, Go… */
    workspacePackage: z.boolean().default(true),
    /** Workspace package of the service (its package.json directory, relative to the app root). */
    packageDir: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535),
    memory: perEnv(memory),
    cpu: perEnv(cpu),
    minInstances: perEnv(z.number().int().min(0)),
    maxInstances: perEnv(z.number().int().min(1)),
    /** Requests one instance serves at once (Cloud Run's default 80 when absent). */
    concurrency: perEnv(z.number().int().min(1).max(1000)).optional(),
    /** false: CPU stays allocated between requests (`--no-cpu-throttling`), for websockets and background work. */
    cpuThrottling: z.boolean().default(true),
    timeoutSeconds: z.number().int().min(1).max(3600),
    sessionAffinity: z.boolean().default(false),
    needs: z.object({ database: z.boolean(), storage: z.boolean(), secrets: z.boolean() }),
    public: z.boolean(),
    /** The variable under which the other services receive this service's URL. */
    urlEnvVar: envKey,
    /** URL scheme the others get (wss for websockets). */
    urlScheme: z.enum(['https', 'wss']).default('https'),
    /** Variables passed from the env file (only these; never local-only values). A `${SECRET_*}` value becomes a Secret Manager mount. */
    env: z.array(envKey),
    /** The config's secrets (by envVar) this service gets; all of them when absent and `needs.secrets`. */
    secrets: z.array(envKey).optional(),
    healthPath: z.string().startsWith('/').default('/health'),
  })
  .refine((s) => !s.workspacePackage || s.packageDir, { message: 'a workspace package service needs packageDir (or set workspacePackage: false)', path: ['packageDir'] });

const environment = z.object({
  /** Appended to names that do not carry {env} themselves, so environments sharing a project never collide. */
  suffix: z.string().regex(/^(-[a-z0-9]+)?$/),
});

export const infraSchema = z.object({
  /** Label `app` on every resource. */
  app: z.string().regex(/^[a-z][-a-z0-9]*$/),
  /** Label `managed-by`; cleanup and status only ever touch resources carrying it (or named in this config). */
  managedBy: z.string().regex(/^[a-z][-a-z0-9]*$/).default('gcp-tasks'),
  /** Default app monorepo root (APP_ROOT overrides). */
  appRoot: z.string().min(1),
  environments: z.object({ development: environment, production: environment }),
  apis: z.array(z.string().regex(/^[a-z][-a-z0-9.]*\.googleapis\.com$/)).min(1),
  registry: z.object({ name: template, format: z.literal('docker'), adopt: z.boolean().optional() }),
  buckets: z.array(bucket).min(1),
  sql: z.object({
    instance: template,
    database: z.string().min(1),
    user: z.string().min(1),
    databaseVersion: perEnv(z.enum(['POSTGRES_15', 'POSTGRES_16', 'POSTGRES_17'])),
    tier: perEnv(z.string().regex(/^db-(f1-micro|g1-small|custom-\d+-\d+|n1-(standard|highmem)-\d+|perf-optimized-N-\d+)$/, 'a Cloud SQL tier like db-f1-micro or db-custom-1-3840')),
    storageType: z.enum(['SSD', 'HDD']),
    storageSizeGb: z.number().int().min(10),
    storageAutoIncrease: z.boolean(),
    backupStartTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM'),
    maintenanceWindow: z.object({ day: z.enum(['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN']), hour: z.number().int().min(0).max(23) }),
    maxConnections: perEnv(z.number().int().min(14).max(262143)),
    availabilityType: perEnv(z.enum(['ZONAL', 'REGIONAL'])),
    /** Secret holding the `postgres` password. */
    passwordSecret: template,
    adopt: z.boolean().optional(),
  }),
  serviceAccount: z.object({
    name: template.refine((s) => s.length <= 30, 'service account ids are at most 30 characters'),
    displayName: z.string().min(1),
    roles: z.array(z.string().regex(/^roles\/[a-zA-Z.]+$/)).min(1),
    adopt: z.boolean().optional(),
  }),
  secrets: z.array(secret).min(1),
  services: z.array(service).min(1),
  /** Local development database (db:local). */
  localDb: z.object({ host: z.string(), port: z.number().int().min(1).max(65535), dataDir: z.string() }),
  /** Migration command run in the app root by db:migrate. */
  migrateCommand: z.array(z.string()).min(1),
  prices: z.object({
    /** When the prices were taken (they change; override them here). */
    takenOn: z.string(),
    currency: z.string(),
    sqlTierMonthly: z.record(z.string(), z.number().nonnegative()),
    sqlStorageGbMonthSsd: z.number().nonnegative(),
    sqlStorageGbMonthHdd: z.number().nonnegative(),
    /** REGIONAL doubles instance cost on Cloud SQL. */
    sqlRegionalMultiplier: z.number().positive(),
    storageGbMonth: z.number().nonnegative(),
    registryGbMonth: z.number().nonnegative(),
    secretVersionMonth: z.number().nonnegative(),
    /** Monthly price of the separate vector database service pgvector replaces. */
    vectorDbMonthly: z.number().nonnegative(),
    vectorDbName: z.string(),
  }),
});

export type InfraConfig = z.input<typeof infraSchema>;
type Infra = z.output<typeof infraSchema>;

export interface ResolvedService {
  /** Base name (`api-gateway`): task names use it (`deploy:api-gateway`). */
  key: string;
  /** Cloud Run service name in this environment. */
  name: string;
  /** Build context, relative to the app root. */
  context: string;
  dockerfile: string;
  workspacePackage: boolean;
  /** The package directory ('' for a service that is not a workspace package). */
  packageDir: string;
  port: number;
  memory: string;
  cpu: string;
  minInstances: number;
  maxInstances: number;
  concurrency?: number;
  cpuThrottling: boolean;
  timeoutSeconds: number;
  sessionAffinity: boolean;
  needs: { database: boolean; storage: boolean; secrets: boolean };
  public: boolean;
  urlEnvVar: string;
  urlScheme: 'https' | 'wss';
  env: string[];
  /** The config's secrets (envVar and Secret Manager name) the service mounts. */
  secrets: { envVar: string; name: string }[];
  healthPath: string;
  /** Image path without tag or digest: REGION-docker.pkg.dev/PROJECT/REPO/SERVICE */
  image: string;
}

export interface ResolvedInfra {
  app: string;
  managedBy: string;
  env: EnvName;
  suffix: string;
  /** Labels every created resource carries. */
  labels: { app: string; environment: EnvName; 'managed-by': string };
  appRoot: string;
  apis: string[];
  registry: { name: string; format: 'docker'; location: string; host: string; path: string; adopt?: boolean };
  buckets: { key: string; name: string; envVar: string; lifecycle: { prefix: string; ageDays: number }[]; adopt?: boolean }[];
  sql: {
    instance: string;
    database: string;
    user: string;
    databaseVersion: 'POSTGRES_15' | 'POSTGRES_16' | 'POSTGRES_17';
    tier: string;
    storageType: 'SSD' | 'HDD';
    storageSizeGb: number;
    storageAutoIncrease: boolean;
    backupStartTime: string;
    maintenanceWindow: { day: 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN'; hour: number };
    maxConnections: number;
    availabilityType: 'ZONAL' | 'REGIONAL';
    passwordSecret: string;
    adopt?: boolean;
    /** PROJECT:REGION:INSTANCE */
    connectionName: string;
    /** /cloudsql/PROJECT:REGION:INSTANCE */
    socketPath: string;
  };
  serviceAccount: { name: string; email: string; displayName: string; roles: string[]; adopt?: boolean };
  secrets: { name: string; envVar: string; generate: 'random-base64-48' | 'random-password-32'; adopt?: boolean }[];
  services: ResolvedService[];
  localDb: { host: string; port: number; dataDir: string };
  migrateCommand: string[];
  prices: Infra['prices'];
}

function pick<T>(value: T | { development: T; production: T }, env: EnvName): T {
  return value !== null && typeof value === 'object' && 'development' in (value as object) && 'production' in (value as object)
    ? (value as { development: T; production: T })[env]
    : (value as T);
}

/**
 * Resolves the config for one environment: picks per-environment values, fills name templates, applies
 * the bucket overrides from env vars, and validates the resulting names. Throws a ZodError listing every problem.
 */
export function resolveInfra(
  config: InfraConfig,
  opts: { env: EnvName; project: string; region: string; vars: Readonly<Record<string, string>> },
): ResolvedInfra {
  const infra = infraSchema.parse(config);
  const { env, project, region, vars } = opts;
  const suffix = infra.environments[env].suffix;
  const fill = (t: string) => {
    const name = t.replaceAll('{env}', env).replaceAll('{project}', project);
    // A name that carries {env} needs no suffix; every other name gets the environment's suffix.
    return t.includes('{env}') || t.includes('{suffix}') ? name.replaceAll('{suffix}', suffix) : name + suffix;
  };
  const registryName = fill(infra.registry.name);
  const instance = fill(infra.sql.instance);
  const saName = fill(infra.serviceAccount.name);
  const secrets = infra.secrets.map(({ adopt, ...s }) => ({ ...s, name: fill(s.name), ...(adopt ? { adopt: true } : {}) }));
  const resolved: ResolvedInfra = {
    app: infra.app,
    managedBy: infra.managedBy,
    env,
    suffix,
    labels: { app: infra.app, environment: env, 'managed-by': infra.managedBy },
    appRoot: vars.APP_ROOT || infra.appRoot,
    apis: [...infra.apis],
    registry: {
      name: registryName,
      format: infra.registry.format,
      location: region,
      host: `${region}-docker.pkg.dev`,
      path: `${region}-docker.pkg.dev/${project}/${registryName}`,
      ...(infra.registry.adopt ? { adopt: true } : {}),
    },
    buckets: infra.buckets.map((b) => ({
      key: b.key,
      name: vars[b.envVar] || fill(b.name),
      envVar: b.envVar,
      lifecycle: b.lifecycle,
      ...(b.adopt ? { adopt: true } : {}),
    })),
    sql: {
      ...(({ adopt, ...sql }) => ({ ...sql, ...(adopt ? { adopt: true } : {}) }))(infra.sql),
      instance,
      databaseVersion: pick(infra.sql.databaseVersion, env),
      tier: pick(infra.sql.tier, env),
      maxConnections: pick(infra.sql.maxConnections, env),
      availabilityType: pick(infra.sql.availabilityType, env),
      passwordSecret: fill(infra.sql.passwordSecret),
      connectionName: `${project}:${region}:${instance}`,
      socketPath: `/cloudsql/${project}:${region}:${instance}`,
    },
    serviceAccount: {
      name: saName,
      email: `${saName}@${project}.iam.gserviceaccount.com`,
      displayName: infra.serviceAccount.displayName,
      roles: [...infra.serviceAccount.roles],
      ...(infra.serviceAccount.adopt ? { adopt: true } : {}),
    },
    secrets,
    services: infra.services.map((s) => ({
      key: s.name,
      name: s.name + suffix,
      context: s.context,
      dockerfile: s.dockerfile,
      workspacePackage: s.workspacePackage,
      packageDir: s.packageDir ?? '',
      port: s.port,
      memory: pick(s.memory, env),
      cpu: pick(s.cpu, env),
      minInstances: pick(s.minInstances, env),
      maxInstances: pick(s.maxInstances, env),
      ...(s.concurrency !== undefined ? { concurrency: pick(s.concurrency, env) } : {}),
      cpuThrottling: s.cpuThrottling,
      timeoutSeconds: s.timeoutSeconds,
      sessionAffinity: s.sessionAffinity,
      needs: s.needs,
      public: s.public,
      urlEnvVar: s.urlEnvVar,
      urlScheme: s.urlScheme,
      env: s.env,
      secrets: s.needs.secrets ? secrets.filter((x) => !s.secrets || s.secrets.includes(x.envVar)).map((x) => ({ envVar: x.envVar, name: x.name })) : [],
      healthPath: s.healthPath,
      image: `${region}-docker.pkg.dev/${project}/${registryName}/${s.name}`,
    })),
    localDb: infra.localDb,
    migrateCommand: infra.migrateCommand,
    prices: infra.prices,
  };
  validateNames(resolved);
  return resolved;
}

/** Google's naming rules, checked before any call so a bad name never reaches gcloud. */
export const nameRules = {
  // https://cloud.google.com/storage/docs/buckets#naming (dot-free form)
  bucket: /^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$/,
  sqlInstance: /^[a-z][-a-z0-9]{0,96}[a-z0-9]$/,
  serviceAccount: /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/,
  secret: /^[-_a-zA-Z0-9]{1,255}$/,
  runService: /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/,
  registry: /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
};

function validateNames(infra: ResolvedInfra): void {
  const problems: z.core.$ZodIssue[] = [];
  const check = (path: (string | number)[], value: string, rule: RegExp, what: string) => {
    if (!rule.test(value) || (rule === nameRules.bucket && /^goog|google/.test(value)))
      problems.push({ code: 'custom', path, message: `"${value}" is not a valid ${what} name`, input: value } as z.core.$ZodIssue);
  };
  infra.buckets.forEach((b, i) => check(['buckets', i, 'name'], b.name, nameRules.bucket, 'bucket'));
  check(['sql', 'instance'], infra.sql.instance, nameRules.sqlInstance, 'Cloud SQL instance');
  check(['serviceAccount', 'name'], infra.serviceAccount.name, nameRules.serviceAccount, 'service account');
  check(['registry', 'name'], infra.registry.name, nameRules.registry, 'Artifact Registry repository');
  infra.secrets.forEach((s, i) => check(['secrets', i, 'name'], s.name, nameRules.secret, 'secret'));
  infra.services.forEach((s, i) => check(['services', i, 'name'], s.name, nameRules.runService, 'Cloud Run service'));
  if (problems.length) throw new z.ZodError(problems);
}

export { envNames };
