// The env variables the gcp tasks read, validated before anything runs (every problem reported at once,
// each under its key), and the values a sandbox run uses when no env file sets them.
// Values stay strings (they are passed on to Cloud Run as they are); the schema only checks them.
import { z } from 'zod';
import { nameRules, resolveInfra, type InfraConfig } from '../../lib/gcp/infra.js';
import type { EnvName } from '../../lib/engine/types.js';

/** Regions where Cloud Run, Cloud SQL and Artifact Registry are all available. */
export const knownRegions = [
  'africa-south1',
  'asia-east1', 'asia-east2', 'asia-northeast1', 'asia-northeast2', 'asia-northeast3', 'asia-south1', 'asia-south2',
  'asia-southeast1', 'asia-southeast2',
  'australia-southeast1', 'australia-southeast2',
  'europe-central2', 'europe-north1', 'europe-north2', 'europe-southwest1', 'europe-west1', 'europe-west2', 'europe-west3',
  'europe-west4', 'europe-west6', 'europe-west8', 'europe-west9', 'europe-west10', 'europe-west12',
  'me-central1', 'me-central2', 'me-west1',
  'northamerica-northeast1', 'northamerica-northeast2', 'northamerica-south1',
  'southamerica-east1', 'southamerica-west1',
  'us-central1', 'us-east1', 'us-east4', 'us-east5', 'us-south1', 'us-west1', 'us-west2', 'us-west3', 'us-west4',
] as const;

// Google's project id rules: 6–30 characters, lowercase letters, digits and hyphens, starting with a
// letter, not ending with a hyphen, and not containing "google".
const projectIdRule = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;

const required = (what: string) => z.string({ error: `is required: ${what}` }).trim().min(1, `is required: ${what}`);

/** An optional value: unset or empty passes; otherwise it must satisfy `check`. */
const optional = (check: (v: string) => boolean, message: string) =>
  z.string().optional().refine((v) => v === undefined || v === '' || check(v), message);

const oneOf = (values: readonly string[]) =>
  optional((v) => values.includes(v), `must be one of ${values.join(', ')}`);

const isInt = (min: number, max = Number.MAX_SAFE_INTEGER) => (v: string) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max;
const integer = (min: number, max?: number) =>
  optional(isInt(min, max), max === undefined ? `must be a whole number ≥ ${min}` : `must be a whole number from ${min} to ${max}`);
const port = integer(1, 65535);
const boolean = oneOf(['true', 'false']);

const isUrl = (schemes: string[]) => (v: string) => {
  try {
    return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
  } catch {
    return false;
  }
};
const url = (schemes: string[]) => optional(isUrl(schemes), `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`);

const bucketName = optional(
  (v) => nameRules.bucket.test(v) && !/^goog|google/.test(v),
  'must be a valid bucket name: 3–63 lowercase letters, digits, - and _, starting and ending with a letter or digit, not containing "google"',
);

const origin = (v: string) => v === '*' || (isUrl(['http', 'https'])(v) && new URL(v).origin === v.replace(/\/$/, ''));

const shape = {
  GCP_PROJECT_ID: required('the Google Cloud project id (gcloud projects list)').refine(
    (v) => projectIdRule.test(v) && !v.includes('google'),
    'must be a Google Cloud project id: 6–30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen',
  ),
  GCP_REGION: required('the region, e.g. us-central1').refine(
    (v) => (knownRegions as readonly string[]).includes(v),
    `must be a Google Cloud region with Cloud Run and Cloud SQL, e.g. us-central1, europe-west1 (gcloud run regions list)`,
  ),
  NODE_ENV: oneOf(['development', 'production', 'test']),

  DATABASE_URL: url(['postgres', 'postgresql']),
  DATABASE_HOST: optional((v) => !/\s/.test(v), 'must be a host name, an IP address or a /cloudsql/... socket directory'),
  DATABASE_PORT: port,
  DATABASE_NAME: optional((v) => /^[A-Za-z_][-\w]{0,62}$/.test(v), 'must be a database name (letters, digits, _ and -, at most 63)'),
  DATABASE_USER: optional((v) => /^[A-Za-z_][\w.-]{0,62}$/.test(v), 'must be a database user name (letters, digits, _, . and -, at most 63)'),
  DATABASE_SSL: boolean,
  DATABASE_POOL_MIN: integer(0, 1000),
  DATABASE_POOL_MAX: integer(1, 1000),
  CLOUD_SQL_CONNECTION_NAME: optional((v) => /^[a-z][-a-z0-9.:]*:[a-z]+-[a-z]+\d+:[a-z][-a-z0-9]*$/.test(v), 'must be PROJECT:REGION:INSTANCE'),

  GCS_BUCKET_VOICE_MODELS: bucketName,
  GCS_BUCKET_FACE_MODELS: bucketName,
  GCS_BUCKET_DOCUMENTS: bucketName,
  GCS_BUCKET_UPLOADS: bucketName,

  ENABLE_CACHING: boolean,
  CACHE_TTL_SHORT: integer(0),
  CACHE_TTL_MEDIUM: integer(0),
  CACHE_TTL_LONG: integer(0),

  LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error']),
  LOG_FORMAT: oneOf(['json', 'simple']),
  CORS_ORIGIN: optional(
    (v) => v.split(',').map((s) => s.trim()).every(origin),
    'must be * or a comma-separated list of origins like https://app.example.com (scheme and host, no path)',
  ),
  ENABLE_API_DOCS: boolean,
  ENABLE_DEBUG_ENDPOINTS: boolean,

  API_GATEWAY_URL: url(['http', 'https']),
  WEBSOCKET_URL: url(['ws', 'wss', 'http', 'https']),
  FACE_PROCESSING_URL: url(['http', 'https']),
  API_GATEWAY_PORT: port,
  WEBSOCKET_PORT: port,
  FACE_PROCESSING_PORT: port,
};

const SUPPLIED_SECRET = /^SECRET_VALUE_[A-Z0-9_]+$/;

/**
 * The env schema of the gcp tasks. Unknown keys pass through (the process environment is part of the
 * vars); the cross-field rules run even when a field failed, so every problem is reported in one go.
 */
export const gcpEnvSchema = z.looseObject(shape).superRefine((vars, ctx) => {
  const v = vars as Record<string, string | undefined>;
  const num = (key: string) => (v[key] && /^\d+$/.test(v[key]!) ? Number(v[key]) : undefined);
  const min = num('DATABASE_POOL_MIN');
  const max = num('DATABASE_POOL_MAX');
  if (min !== undefined && max !== undefined && min > max) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_POOL_MIN'], message: `must not be larger than DATABASE_POOL_MAX (${max})` });
  }
  const ttls = ['CACHE_TTL_SHORT', 'CACHE_TTL_MEDIUM', 'CACHE_TTL_LONG'].map((k) => [k, num(k)] as const);
  for (let i = 1; i < ttls.length; i++) {
    const [prevKey, prev] = ttls[i - 1];
    const [key, value] = ttls[i];
    if (prev !== undefined && value !== undefined && value < prev) {
      ctx.addIssue({ code: 'custom', path: [key], message: `must not be shorter than ${prevKey} (${prev})` });
    }
  }
  // A value the user supplies for a secret's first version (secrets:create): never echoed back.
  for (const [key, value] of Object.entries(v)) {
    if (SUPPLIED_SECRET.test(key) && value !== undefined && value.length < 12) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'is too short for a secret: use at least 12 characters (or unset it to get a generated one)' });
    }
  }
}) as unknown as z.ZodType<Record<string, string>>;

/**
 * Env values for a sandbox run, so that it needs no .env file: development gets localhost URLs and
 * relaxed settings, production strict ones. Resource names come from the infra data when given.
 */
export function sandboxVars(env: EnvName, sandbox: { project: string; region: string }, infra?: InfraConfig): Record<string, string> {
  const resolved = infra ? resolveInfra(infra, { env, project: sandbox.project, region: sandbox.region, vars: {} }) : undefined;
  const dev = env === 'development';
  const vars: Record<string, string> = {
    NODE_ENV: env,
    DATABASE_SSL: dev ? 'false' : 'true',
    DATABASE_POOL_MIN: dev ? '1' : '2',
    DATABASE_POOL_MAX: dev ? '5' : '10',
    ENABLE_CACHING: 'true',
    CACHE_TTL_SHORT: '60',
    CACHE_TTL_MEDIUM: '300',
    CACHE_TTL_LONG: '3600',
    LOG_LEVEL: dev ? 'debug' : 'info',
    LOG_FORMAT: dev ? 'simple' : 'json',
    CORS_ORIGIN: dev ? 'http://localhost:3000,http://localhost:5173' : 'https://app.digitwin.example',
    ENABLE_API_DOCS: dev ? 'true' : 'false',
    ENABLE_DEBUG_ENDPOINTS: dev ? 'true' : 'false',
  };
  if (resolved) {
    vars.DATABASE_NAME = resolved.sql.database;
    vars.DATABASE_USER = resolved.sql.user;
    vars.CLOUD_SQL_CONNECTION_NAME = resolved.sql.connectionName;
    for (const bucket of resolved.buckets) vars[bucket.envVar] = bucket.name;
  }
  if (dev) {
    Object.assign(vars, {
      DATABASE_HOST: '127.0.0.1',
      DATABASE_PORT: '5432',
      API_GATEWAY_PORT: '3000',
      WEBSOCKET_PORT: '3001',
      FACE_PROCESSING_PORT: '3002',
      API_GATEWAY_URL: 'http://localhost:3000',
      WEBSOCKET_URL: 'ws://localhost:3001',
      FACE_PROCESSING_URL: 'http://localhost:3002',
    });
  } else if (resolved) {
    vars.DATABASE_HOST = resolved.sql.socketPath;
  }
  return vars;
}
