// Shared helpers of the sandbox API modules: Google-style errors, checksums, etags, long-running operations.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { iamPolicy } from '../gcp/resources.js';
import type { ApiContext, GoogleError, LatencyKind, ProjectState, SandboxResponse } from './types.js';

// ---------------------------------------------------------------------------------------------- errors

const STATUS_BY_CODE: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
};

const REASON_BY_CODE: Record<number, string> = {
  400: 'invalid', 403: 'forbidden', 404: 'notFound', 409: 'conflict', 412: 'conditionNotMet',
  429: 'rateLimitExceeded', 500: 'backendError', 501: 'notImplemented', 503: 'backendError',
};

/** An error a handler throws; the server turns it into a Google-style JSON error response. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly status: string = STATUS_BY_CODE[code] ?? 'UNKNOWN',
    /** Extra `error.details` entries (e.g. google.rpc.ErrorInfo for SERVICE_DISABLED). */
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

export function errorBody(code: number, message: string, status = STATUS_BY_CODE[code] ?? 'UNKNOWN', details?: unknown[]): GoogleError {
  const body: GoogleError & { error: { details?: unknown[] } } = {
    error: { code, message, status, errors: [{ message, domain: 'global', reason: REASON_BY_CODE[code] ?? 'unknown' }] },
  };
  if (details) body.error.details = details;
  return body;
}

/** A Google-style error response (for handlers that prefer returning over throwing). */
export function error(code: number, status: string, message: string): SandboxResponse {
  return { status: code, body: errorBody(code, message, status) };
}

export const notFound = (message: string) => new ApiError(404, message);
export const alreadyExists = (message: string) => new ApiError(409, message);
/** 409 ABORTED: the status Google uses for etag conflicts on setIamPolicy. */
export const aborted = (message: string) => new ApiError(409, message, 'ABORTED');
export const invalidArgument = (message: string) => new ApiError(400, message);
export const failedPrecondition = (message: string) => new ApiError(412, message, 'FAILED_PRECONDITION');
export const permissionDenied = (message: string) => new ApiError(403, message);

export function ok(body: unknown = {}, headers?: Record<string, string>): SandboxResponse {
  return { status: 200, body, headers };
}

// ------------------------------------------------------------------------------------- request bodies

/** A JSON object whose fields the handler checks itself (each one is `unknown`). */
export const jsonObject = z.looseObject({});

/**
 * A request body read with a schema (no body reads as `{}`). A body of another shape is the 400
 * INVALID_ARGUMENT Google answers, naming the first field that is wrong.
 */
export function parseBody<S extends z.ZodType>(schema: S, json: unknown): z.output<S> {
  const result = schema.safeParse(json ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('').replace(/^\./, '');
  throw invalidArgument(`Invalid JSON payload received. Invalid value at '${field || 'body'}': ${issue.message}.`);
}

// ------------------------------------------------------------------------------------ checksums, ids

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) as an unsigned integer — what Secret Manager's `dataCrc32c` carries (as a decimal string). */
export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Cloud Storage `crc32c`: base64 of the big-endian 4 bytes. */
export function crc32cBase64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data));
  return out.toString('base64');
}

/** Cloud Storage `md5Hash`: base64 of the MD5 digest. */
export function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/** Etags are bytes: gcloud may send back the URL-safe base64 form of the one it received. */
export function sameEtag(a: string, b: string): boolean {
  const bytes = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('hex');
  return bytes(a) === bytes(b);
}

/** An etag that is valid base64 (gcloud decodes IAM policy etags as bytes), derived from the content. */
export function base64Etag(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content ?? null)).digest().subarray(0, 8).toString('base64');
}

/** A random-looking hex id drawn from the sandbox's seeded random source (reproducible for a seed). */
export function hexId(ctx: ApiContext, length = 32): string {
  let out = '';
  while (out.length < length) out += Math.floor(ctx.random() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, length);
}

/** A UUID-shaped id from the seeded random source. */
export function uuid(ctx: ApiContext): string {
  const h = hexId(ctx, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Unpredictable bytes (key material), never needed to be reproducible. */
export function secureBytes(n: number): Buffer {
  return randomBytes(n);
}

/** Google-style timestamp with microseconds: `2026-11-26T00:17:44.000000Z`. */
export function timestamp(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

// ------------------------------------------------------------------------------ long-running operations

/** An operation as the sandbox keeps it; every API renders it in its own style (done / status DONE). */
export interface OperationRecord {
  /** The API-specific id (last path segment of the operation name). */
  id: string;
  /** The module that owns it (e.g. `serviceusage`, `artifactregistry`, `container`, `sql`). */
  api: string;
  /** What finishes it: a key registered with `onOperationDone` (e.g. `sql.create`). */
  kind: string;
  projectId: string;
  createTime: string;
  /** Epoch ms at which it becomes done. */
  doneAt: number;
  done: boolean;
  endTime?: string;
  /** Result resource (when done and successful). */
  response?: Record<string, unknown>;
  /** Failure, when done and failed. */
  error?: { code: number; message: string };
  /** Free-form data for the finisher and the renderer (target resource, location, …). */
  data: Record<string, unknown>;
}

type Finisher = (ctx: ApiContext, op: OperationRecord) => void | { response?: Record<string, unknown>; error?: { code: number; message: string } };
const finishers = new Map<string, Finisher>();

/**
 * Registers what happens when an operation of this kind completes (e.g. the instance becomes RUNNABLE).
 * Keyed by a string so it survives a restart of the sandbox (operations are persisted, functions are not).
 */
export function onOperationDone(kind: string, finisher: Finisher): void {
  finishers.set(kind, finisher);
}

function operationsOf(project: ProjectState): Record<string, OperationRecord> {
  return (project.operations ??= {});
}

/** Starts an operation that becomes done after the simulated duration of `latency` (0 → already done). */
export function startOperation(
  ctx: ApiContext,
  opts: { projectId: string; api: string; kind: string; latency: LatencyKind | number; id?: string; data?: Record<string, unknown>; response?: Record<string, unknown> },
): OperationRecord {
  const project = ctx.project(opts.projectId);
  const duration = typeof opts.latency === 'number' ? opts.latency : ctx.latency(opts.latency);
  const op: OperationRecord = {
    id: opts.id ?? uuid(ctx),
    api: opts.api,
    kind: opts.kind,
    projectId: project.projectId,
    createTime: ctx.now(),
    doneAt: Date.now() + duration,
    done: false,
    response: opts.response,
    data: opts.data ?? {},
  };
  operationsOf(project)[op.id] = op;
  if (duration <= 0) settleOperation(ctx, op);
  ctx.save();
  return op;
}

/** Finds an operation by id (in one project, or in any project when projectId is omitted). */
export function findOperation(ctx: ApiContext, id: string, projectId?: string): OperationRecord | undefined {
  const projects = projectId ? [ctx.project(projectId)] : Object.values(ctx.state.projects);
  for (const project of projects) {
    const op = project.operations?.[id];
    if (op) return op;
  }
  return undefined;
}

function settleOperation(ctx: ApiContext, op: OperationRecord): void {
  const result = finishers.get(op.kind)?.(ctx, op);
  if (result?.response !== undefined) op.response = result.response;
  if (result?.error) op.error = result.error;
  op.done = true;
  op.endTime = ctx.now();
}

/** Completes every operation whose time has come. The server calls it before handling each request. */
export function settleDueOperations(ctx: ApiContext): void {
  const now = Date.now();
  let changed = false;
  for (const project of Object.values(ctx.state.projects)) {
    for (const op of Object.values(project.operations ?? {})) {
      if (!op.done && op.doneAt <= now) {
        settleOperation(ctx, op);
        changed = true;
      }
    }
  }
  if (changed) ctx.save();
}

/** google.longrunning.Operation rendering (Service Usage, Artifact Registry, Secret Manager style). */
export function renderLongRunning(op: OperationRecord, name: string, metadataType?: string, responseType?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { name };
  if (metadataType) out.metadata = { '@type': metadataType };
  out.done = op.done;
  if (op.done && op.error) out.error = { code: op.error.code, message: op.error.message, details: [] };
  else if (op.done && op.response !== undefined) out.response = responseType ? { '@type': responseType, ...op.response } : op.response;
  return out;
}

// ------------------------------------------------------------------------------------ API enablement

const API_TITLES: Record<string, string> = {
  'artifactregistry.googleapis.com': 'Artifact Registry API',
  'cloudbuild.googleapis.com': 'Cloud Build API',
  'cloudresourcemanager.googleapis.com': 'Cloud Resource Manager API',
  'compute.googleapis.com': 'Compute Engine API',
  'container.googleapis.com': 'Kubernetes Engine API',
  'iam.googleapis.com': 'Identity and Access Management (IAM) API',
  'monitoring.googleapis.com': 'Cloud Monitoring API',
  'run.googleapis.com': 'Cloud Run Admin API',
  'secretmanager.googleapis.com': 'Secret Manager API',
  'sqladmin.googleapis.com': 'Cloud SQL Admin API',
  'sql-component.googleapis.com': 'Cloud SQL',
  'storage.googleapis.com': 'Cloud Storage API',
  'storage-api.googleapis.com': 'Google Cloud Storage JSON API',
  'storage-component.googleapis.com': 'Cloud Storage',
  'serviceusage.googleapis.com': 'Service Usage API',
  'logging.googleapis.com': 'Cloud Logging API',
};

/** Human title of an API (`config.title` in Service Usage). */
export function apiTitle(api: string): string {
  if (API_TITLES[api]) return API_TITLES[api];
  const base = api.replace(/\.googleapis\.com$/, '');
  return `${base.charAt(0).toUpperCase()}${base.slice(1)} API`;
}

/** The 403 Google answers when an API is not enabled on the project (reason SERVICE_DISABLED). */
export function serviceDisabled(project: ProjectState, api: string): ApiError {
  const n = project.projectNumber;
  const message =
    `${apiTitle(api)} has not been used in project ${n} before or it is disabled. Enable it by visiting ` +
    `https://console.developers.google.com/apis/api/${api}/overview?project=${n} then retry. If you enabled this API recently, ` +
    `wait a few minutes for the action to propagate to our systems and retry.`;
  return new ApiError(403, message, 'PERMISSION_DENIED', [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'SERVICE_DISABLED',
      domain: 'googleapis.com',
      metadata: { service: api, consumer: `projects/${n}` },
    },
  ]);
}

// ----------------------------------------------------------------------------------------------- paging

/** One page of a list (`pageToken` is an opaque offset), as Google's list methods return it. */
export function paginate<T>(items: T[], pageSize: string | null | undefined, pageToken: string | null | undefined, defaultSize = 100): { items: T[]; nextPageToken?: string } {
  const size = Math.max(1, Number(pageSize) || defaultSize);
  let start = 0;
  if (pageToken) {
    start = Number(Buffer.from(pageToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw invalidArgument(`Invalid page token [${pageToken}].`);
  }
  const slice = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
  return next ? { items: slice, nextPageToken: next } : { items: slice };
}

// ---------------------------------------------------------------------------------------------- locations

/** Google Cloud regions (for validating `--region` / `--location` where Google validates). */
export const GCP_REGIONS: readonly string[] = [
  'africa-south1', 'asia-east1', 'asia-east2', 'asia-northeast1', 'asia-northeast2', 'asia-northeast3', 'asia-south1',
  'asia-south2', 'asia-southeast1', 'asia-southeast2', 'australia-southeast1', 'australia-southeast2', 'europe-central2',
  'europe-north1', 'europe-north2', 'europe-southwest1', 'europe-west1', 'europe-west10', 'europe-west12', 'europe-west2',
  'europe-west3', 'europe-west4', 'europe-west6', 'europe-west8', 'europe-west9', 'me-central1', 'me-central2', 'me-west1',
  'northamerica-northeast1', 'northamerica-northeast2', 'northamerica-south1', 'southamerica-east1', 'southamerica-west1',
  'us-central1', 'us-east1', 'us-east4', 'us-east5', 'us-south1', 'us-west1', 'us-west2', 'us-west3', 'us-west4',
];

export function isRegion(location: string): boolean {
  return GCP_REGIONS.includes(location);
}

/** A zone of a known region: `us-central1-a`. */
export function isZone(location: string): boolean {
  const m = location.match(/^(.+)-([a-f])$/);
  return !!m && isRegion(m[1]!);
}

// ------------------------------------------------------------------------------------------------ labels

/** Google's label rules (keys: lowercase letter first; keys and values: lowercase letters, digits, _ and -, ≤ 63). */
export function validateLabels(labels: unknown, field = 'labels'): Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw invalidArgument(`Invalid value for ${field}: expected a map of strings.`);
  const entries = Object.entries(labels);
  if (entries.length > 64) throw invalidArgument(`Invalid value for ${field}: at most 64 labels.`);
  for (const [k, v] of entries) {
    if (v === null) continue; // PATCH: removes the label
    if (!/^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u.test(k)) {
      throw invalidArgument(`Invalid value for ${field}: key '${k}' must start with a lowercase letter and contain only lowercase letters, digits, _ and - (at most 63 characters).`);
    }
    if (typeof v !== 'string' || !/^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u.test(v)) {
      throw invalidArgument(`Invalid value for ${field}: value '${String(v)}' of '${k}' must contain only lowercase letters, digits, _ and - (at most 63 characters).`);
    }
  }
  return labels as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------- IAM policies

export interface IamBinding {
  role: string;
  members: string[];
  condition?: unknown;
}

export interface IamPolicy {
  version: number;
  etag: string;
  bindings: IamBinding[];
}

const MEMBER = /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group|projectOwner|projectEditor|projectViewer):[^\s:][^\s]*|principal(Set)?:\/\/\S+)$/;
const ROLE = /^(roles\/[\w.]+|(projects|organizations)\/[\w.-]+\/roles\/[\w.]+)$/;
/** Google's predefined roles are the basic ones or `roles/<service>.<name>` of a service that has roles. */
const BASIC_ROLES = new Set(['roles/owner', 'roles/editor', 'roles/viewer', 'roles/browser']);
const ROLE_SERVICES = new Set([
  'run', 'cloudsql', 'secretmanager', 'storage', 'artifactregistry', 'iam', 'logging', 'monitoring', 'cloudbuild', 'container',
  'compute', 'pubsub', 'cloudtrace', 'errorreporting', 'cloudprofiler', 'serviceusage', 'resourcemanager', 'cloudscheduler',
  'cloudtasks', 'cloudfunctions', 'vpcaccess', 'dns', 'redis', 'datastore', 'bigquery', 'cloudkms', 'aiplatform', 'eventarc',
  'workflows', 'appengine', 'billing', 'firebase', 'servicenetworking', 'clouddebugger', 'containerregistry', 'oauthconfig',
]);

function isKnownRole(role: string): boolean {
  if (!role.startsWith('roles/')) return true; // custom roles (projects/…/roles/…) are the project's own
  if (BASIC_ROLES.has(role)) return true;
  const match = role.match(/^roles\/([a-z]+)\.[a-zA-Z]+$/);
  return !!match && ROLE_SERVICES.has(match[1]!);
}

export function newPolicy(bindings: IamBinding[] = []): IamPolicy {
  const policy = { version: 1, bindings };
  return { ...policy, etag: base64Etag(policy) };
}

/** The policy as getIamPolicy answers it (no `bindings` key when empty, like Google). */
export function renderPolicy(policy: IamPolicy): Record<string, unknown> {
  return { version: policy.version, etag: policy.etag, ...(policy.bindings.length ? { bindings: policy.bindings } : {}) };
}

/** The body of setIamPolicy: the policy has Resource Manager's shape on every API. */
export const setIamPolicyBody = z.looseObject({ policy: iamPolicy.optional() });

/**
 * setIamPolicy: validates the request's policy and its etag against the current one (a stale etag is the
 * concurrent-change conflict Google answers with 409 ABORTED), and returns the new policy with a new etag.
 * `serviceAccountExists` lets a caller reject bindings for service accounts of sandbox projects that do not exist.
 */
export function setIamPolicy(current: IamPolicy, body: unknown, serviceAccountExists?: (email: string) => boolean | undefined): IamPolicy {
  const { policy } = parseBody(setIamPolicyBody, body);
  if (!policy) throw invalidArgument('Invalid value for policy: a policy is required.');
  if (policy.etag !== undefined && !sameEtag(policy.etag, current.etag)) {
    throw aborted('There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
  }
  const bindings: IamBinding[] = [];
  for (const [i, b] of (policy.bindings ?? []).entries()) {
    if (!ROLE.test(b.role)) throw invalidArgument(`Invalid value for policy.bindings[${i}].role: '${b.role}' is not a valid role.`);
    if (!isKnownRole(b.role)) throw invalidArgument(`Role ${b.role} is not supported for this resource.`);
    for (const m of b.members ?? []) {
      if (!MEMBER.test(m)) throw invalidArgument(`Invalid value for policy.bindings[${i}].members: '${m}'. Policy members must be of the form "<type>:<value>".`);
      if (m.startsWith('serviceAccount:') && serviceAccountExists?.(m.slice('serviceAccount:'.length)) === false) {
        throw invalidArgument(`Service account ${m.slice('serviceAccount:'.length)} does not exist.`);
      }
    }
    if (b.members?.length) bindings.push({ role: b.role, members: [...new Set(b.members)].sort(), ...(b.condition ? { condition: b.condition } : {}) });
  }
  const version = bindings.some((b) => b.condition) ? 3 : Number(policy.version ?? 1) || 1;
  const next = { version, bindings };
  return { ...next, etag: base64Etag({ ...next, previous: current.etag }) };
}
