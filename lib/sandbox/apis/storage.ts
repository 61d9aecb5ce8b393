// Cloud Storage JSON API v1: buckets (location, uniform access, labels, lifecycle, IAM), objects (list with
// prefix/delimiter, get/download, delete) and the three upload protocols (media, multipart, resumable) with
// the md5Hash/crc32c gcloud verifies. Object bytes live in files under `<stateDir>/blobs/storage/`.
// Also serves `GET https://storage.googleapis.com/<bucket>/<object>` with Range (Cloud Build log tailing,
// reached through the sandbox's TLS-terminating proxy).
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { bucket, iamPolicy, storageObject, type IamPolicyShape } from '../../gcp/resources.js';
import {
  ApiError, base64Etag, crc32cBase64, failedPrecondition, hexId, invalidArgument, isRegion, md5Base64, parseBody, sameEtag, validateLabels, notFound, ok, paginate, timestamp,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest, SandboxResponse } from '../types.js';
import { requireApi } from './serviceusage.js';

interface ObjectRecord {
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  size: string;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  updated: string;
  storageClass: string;
  metadata?: Record<string, string>;
  /** File name of the bytes under blobs/storage/. */
  blob: string;
}

interface Policy {
  version: number;
  etag: string;
  bindings: NonNullable<IamPolicyShape['bindings']>;
}

/** Uniform bucket-level access (and its older name, bucket policy only). */
interface AccessLock {
  enabled: boolean;
  lockedTime?: string;
}

interface BucketRecord {
  name: string;
  projectId: string;
  location: string;
  locationType: string;
  storageClass: string;
  timeCreated: string;
  updated: string;
  metageneration: number;
  iamConfiguration: { bucketPolicyOnly: AccessLock; uniformBucketLevelAccess: AccessLock; publicAccessPrevention: string };
  labels?: Record<string, string>;
  lifecycle?: { rule: unknown[] };
  versioning?: { enabled: boolean };
  softDeletePolicy?: Record<string, unknown>;
  iamPolicy: Policy;
  objects: Record<string, ObjectRecord>;
}

export interface StorageState {
  buckets: Record<string, BucketRecord>;
}

/**
 * Bucket insert and patch bodies. `labels` are checked by validateLabels (a patch removes a label with null,
 * all of them with `labels: null`); a patch clears the lifecycle with `lifecycle: null`.
 */
const bucketBody = bucket.partial().omit({ labels: true }).extend({ lifecycle: bucket.shape.lifecycle.nullable() });
type BucketBody = z.infer<typeof bucketBody>;
/** The object resource sent with an upload (its name may be in the query instead). */
const objectMeta = storageObject.partial().extend({
  contentType: z.string().optional(),
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});
type ObjectMeta = z.infer<typeof objectMeta>;
/** A bucket's IAM policy, sent as it is (not inside `{policy}`). */
const bucketPolicyBody = iamPolicy.extend({ version: z.number().optional() });

const MULTI_REGIONS = ['US', 'EU', 'ASIA'];
const DUAL_REGIONS = ['NAM4', 'EUR4', 'ASIA1'];
const STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'];
const API = 'storage.googleapis.com';

// ------------------------------------------------------------------------------------------ state

function bucketsOf(project: ProjectState): Record<string, BucketRecord> {
  return ((project.storage ??= { buckets: {} }).buckets ??= {});
}

function findBucket(ctx: ApiContext, name: string): BucketRecord | undefined {
  for (const project of Object.values(ctx.state.projects)) {
    const b = project.storage?.buckets?.[name];
    if (b) return b;
  }
  return undefined;
}

function getBucket(ctx: ApiContext, name: string): BucketRecord {
  const b = findBucket(ctx, name);
  if (!b) throw notFound(`The specified bucket does not exist.`);
  return b;
}

function blobFile(ctx: ApiContext, blob: string): string {
  return path.join(ctx.stateDir, 'blobs', 'storage', blob);
}

/** Bucket naming rules of Cloud Storage; the message names what is wrong. */
export function bucketNameProblem(name: string): string | null {
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) return 'bucket names contain only lowercase letters, digits, dashes, underscores and dots, and start and end with a letter or digit';
  const max = name.includes('.') ? 222 : 63;
  if (name.length < 3 || name.length > max) return `bucket names are 3 to ${max} characters long`;
  if (name.includes('.') && name.split('.').some((part) => part.length > 63)) return 'each dot-separated part is at most 63 characters long';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'bucket names cannot be IP addresses';
  if (name.startsWith('goog') || /g[o0][o0]gle/.test(name)) return 'bucket names cannot start with "goog" or contain "google"';
  return null;
}

function normaliseLocation(location: string | undefined): { location: string; locationType: string } {
  if (!location) return { location: 'US', locationType: 'multi-region' };
  const upper = location.toUpperCase();
  if (MULTI_REGIONS.includes(upper)) return { location: upper, locationType: 'multi-region' };
  if (DUAL_REGIONS.includes(upper)) return { location: upper, locationType: 'dual-region' };
  if (isRegion(location.toLowerCase())) return { location: upper, locationType: 'region' };
  throw invalidArgument(`Invalid value for location: '${location}' is not a valid Cloud Storage location (a region such as us-central1, or US, EU, ASIA).`);
}

// ------------------------------------------------------------------------------------------ rendering

function renderBucket(ctx: ApiContext, b: BucketRecord) {
  const project = ctx.project(b.projectId);
  const out: Record<string, unknown> = {
    kind: 'storage#bucket',
    selfLink: `${ctx.baseUrl}/storage/v1/b/${b.name}`,
    id: b.name,
    name: b.name,
    projectNumber: project.projectNumber,
    metageneration: String(b.metageneration),
    location: b.location,
    storageClass: b.storageClass,
    etag: Buffer.from([8, b.metageneration]).toString('base64'),
    timeCreated: timestamp(b.timeCreated),
    updated: timestamp(b.updated),
    iamConfiguration: b.iamConfiguration,
    locationType: b.locationType,
    rpo: 'DEFAULT',
  };
  if (b.labels && Object.keys(b.labels).length) out.labels = b.labels;
  if (b.lifecycle) out.lifecycle = b.lifecycle;
  if (b.versioning) out.versioning = b.versioning;
  if (b.softDeletePolicy) out.softDeletePolicy = b.softDeletePolicy;
  return out;
}

function renderObject(ctx: ApiContext, o: ObjectRecord) {
  const encoded = encodeURIComponent(o.name);
  const { blob: _blob, ...fields } = o;
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${ctx.baseUrl}/storage/v1/b/${o.bucket}/o/${encoded}`,
    mediaLink: `${ctx.baseUrl}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
    ...fields,
    timeCreated: timestamp(o.timeCreated),
    updated: timestamp(o.updated),
    etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64'),
  };
}

// ------------------------------------------------------------------------------------------ objects

function nextGeneration(ctx: ApiContext): string {
  // Microseconds since the epoch like Google's, made unique by the sequence number.
  return String(Date.now() * 1000 + (Number(ctx.nextId()) % 1000));
}

/** Stores an object (replacing any previous generation) and returns its record. */
function putObject(ctx: ApiContext, bucket: BucketRecord, name: string, data: Buffer, contentType: string, metadata?: Record<string, string>): ObjectRecord {
  if (!name || name.length > 1024 || name.startsWith('.well-known/acme-challenge/') || name === '.' || name === '..') {
    throw invalidArgument(`Invalid value for name: '${name}' is not a valid object name.`);
  }
  const generation = nextGeneration(ctx);
  const blob = `${hexId(ctx, 16)}-${generation}`;
  const file = blobFile(ctx, blob);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic.sync(file, data);
  removeBlob(ctx, bucket.objects[name]);
  const now = ctx.now();
  const record: ObjectRecord = {
    name,
    bucket: bucket.name,
    generation,
    metageneration: '1',
    contentType: contentType || 'application/octet-stream',
    size: String(data.length),
    md5Hash: md5Base64(data),
    crc32c: crc32cBase64(data),
    timeCreated: now,
    updated: now,
    storageClass: bucket.storageClass,
    ...(metadata && Object.keys(metadata).length ? { metadata } : {}),
    blob,
  };
  bucket.objects[name] = record;
  ctx.save();
  return record;
}

function removeBlob(ctx: ApiContext, o: ObjectRecord | undefined): void {
  if (o) fs.rmSync(blobFile(ctx, o.blob), { force: true });
}

/** The bytes of an object, or null when the bucket or the object does not exist (used by Cloud Build). */
export function readObject(ctx: ApiContext, bucket: string, name: string): Buffer | null {
  const o = findBucket(ctx, bucket)?.objects[name];
  if (!o) return null;
  try {
    return fs.readFileSync(blobFile(ctx, o.blob));
  } catch {
    return null;
  }
}

/**
 * Writes an object as a Google system would (Cloud Build: build logs); the bucket is created in `project`
 * when it does not exist yet (e.g. `<number>.cloudbuild-logs.googleusercontent.com`). Returns the object resource.
 */
export function writeObject(ctx: ApiContext, project: string, bucket: string, name: string, data: Buffer | string, contentType = 'text/plain; charset=utf-8') {
  const b = findBucket(ctx, bucket) ?? createBucketRecord(ctx, ctx.project(project), { name: bucket }, { system: true });
  return renderObject(ctx, putObject(ctx, b, name, Buffer.isBuffer(data) ? data : Buffer.from(data), contentType));
}

function checkPreconditions(req: SandboxRequest, current: ObjectRecord | undefined): void {
  const want = req.query.get('ifGenerationMatch');
  if (want !== null && want !== (current?.generation ?? '0')) throw failedPrecondition('At least one of the pre-conditions you specified did not hold.');
  const notWant = req.query.get('ifGenerationNotMatch');
  if (notWant !== null && notWant === (current?.generation ?? '0')) throw failedPrecondition('At least one of the pre-conditions you specified did not hold.');
}

function checkIntegrity(meta: ObjectMeta, data: Buffer): void {
  if (meta.md5Hash && meta.md5Hash !== md5Base64(data)) throw invalidArgument('Provided MD5 hash "' + meta.md5Hash + '" doesn\'t match calculated MD5 hash "' + md5Base64(data) + '".');
  if (meta.crc32c && meta.crc32c !== crc32cBase64(data)) throw invalidArgument('Provided CRC32C "' + meta.crc32c + '" doesn\'t match calculated CRC32C "' + crc32cBase64(data) + '".');
}

function finishUpload(req: SandboxRequest, ctx: ApiContext, bucketName: string, meta: ObjectMeta, data: Buffer, contentType: string | undefined): SandboxResponse {
  const bucket = getBucket(ctx, bucketName);
  const name = meta.name ?? req.query.get('name');
  if (!name) throw invalidArgument('Required value: name (the object name is missing from the metadata and from the query).');
  checkPreconditions(req, bucket.objects[name]);
  checkIntegrity(meta, data);
  const record = putObject(ctx, bucket, name, data, meta.contentType ?? contentType ?? 'application/octet-stream', meta.metadata);
  return ok(renderObject(ctx, record));
}

/** Splits `multipart/related` (gcloud quotes the boundary with single quotes). */
function parseMultipart(contentType: string, body: Buffer): { meta: ObjectMeta; data: Buffer; dataType?: string } {
  const m = contentType.match(/boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))/i);
  if (!m) throw invalidArgument('Invalid multipart request: no boundary in the content type.');
  const boundary = Buffer.from(`--${m[1] ?? m[2] ?? m[3]}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    const start = pos + boundary.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(boundary, start);
    if (next < 0) break;
    parts.push(body.subarray(start, next));
    pos = next;
  }
  if (parts.length < 2) throw invalidArgument('Invalid multipart request: expected a metadata part and a media part.');
  // Parts start after the boundary line and end before the next one; gcloud separates lines with \n or \r\n.
  const split = (part: Buffer) => {
    let body = part.subarray(part[0] === 0x0d ? 2 : part[0] === 0x0a ? 1 : 0);
    const crlf = body.indexOf('\r\n\r\n');
    const lf = body.indexOf('\n\n');
    const [sep, width] = crlf >= 0 && (lf < 0 || crlf < lf) ? [crlf, 4] : [lf, 2];
    const headers = sep >= 0 ? body.subarray(0, sep).toString('utf8') : '';
    body = sep >= 0 ? body.subarray(sep + width) : body;
    const eol = width === 4 ? '\r\n' : '\n';
    if (body.subarray(-eol.length).toString() === eol) body = body.subarray(0, -eol.length);
    return { headers, content: body };
  };
  const meta = split(parts[0]!);
  const media = split(parts[1]!);
  let parsed: unknown;
  try {
    parsed = meta.content.length ? JSON.parse(meta.content.toString('utf8')) : {};
  } catch {
    throw invalidArgument('Invalid multipart request: the metadata part is not valid JSON.');
  }
  const dataType = media.headers.match(/content-type:\s*([^\r\n]+)/i)?.[1]?.trim();
  return { meta: parseBody(objectMeta, parsed), data: media.content, dataType };
}

interface UploadSession {
  bucket: string;
  meta: ObjectMeta;
  contentType?: string;
  chunks: Buffer[];
  received: number;
  query: URLSearchParams;
}
const uploads = new Map<string, UploadSession>();

function startUpload(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const uploadType = req.query.get('uploadType');
  const bucketName = req.params.bucket!;
  const bucket = getBucket(ctx, bucketName);
  if (uploadType === 'multipart') {
    const { meta, data, dataType } = parseMultipart(String(req.headers['content-type'] ?? ''), req.body);
    return finishUpload(req, ctx, bucketName, meta, data, dataType);
  }
  if (uploadType === 'media') {
    return finishUpload(req, ctx, bucketName, {}, req.body, req.headers['content-type']);
  }
  if (uploadType === 'resumable') {
    const meta = parseBody(objectMeta, req.json);
    const name = meta.name ?? req.query.get('name');
    if (!name) throw invalidArgument('Required value: name (the object name is missing from the metadata and from the query).');
    checkPreconditions(req, bucket.objects[name]);
    const id = hexId(ctx, 32);
    uploads.set(id, { bucket: bucketName, meta: { ...meta, name }, contentType: req.headers['x-upload-content-type'] as string | undefined, chunks: [], received: 0, query: req.query });
    const prefix = req.path.startsWith('/resumable/') ? '/resumable' : '';
    const location = `${ctx.baseUrl}${prefix}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable&upload_id=${id}`;
    return { status: 200, body: {}, headers: { location } };
  }
  throw invalidArgument(`Invalid value for uploadType: '${uploadType}' (expected media, multipart or resumable).`);
}

function continueUpload(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const id = req.query.get('upload_id') ?? '';
  const session = uploads.get(id);
  if (!session) throw notFound(`No such upload session: ${id}.`);
  const range = String(req.headers['content-range'] ?? '');
  const m = range.match(/^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/);
  if (range && !m) throw invalidArgument(`Invalid Content-Range header: '${range}'.`);
  if (m?.[1] !== undefined) {
    if (Number(m[1]) !== session.received) throw invalidArgument(`Invalid Content-Range: expected the upload to continue at byte ${session.received}.`);
    session.chunks.push(req.body);
    session.received += req.body.length;
  } else if (!range) {
    session.chunks.push(req.body);
    session.received += req.body.length;
  }
  const total = m?.[3] && m[3] !== '*' ? Number(m[3]) : range ? undefined : session.received;
  if (total !== undefined && session.received >= total) {
    uploads.delete(id);
    const fake = { ...req, query: session.query } as SandboxRequest;
    return finishUpload(fake, ctx, session.bucket, session.meta, Buffer.concat(session.chunks), session.contentType);
  }
  // Incomplete: tell the client how much we have (Google answers 308 "Resume Incomplete").
  return { status: 308, body: '', headers: session.received ? { range: `bytes=0-${session.received - 1}` } : {} };
}

function listObjects(req: SandboxRequest, ctx: ApiContext) {
  const bucket = getBucket(ctx, req.params.bucket!);
  const prefix = req.query.get('prefix') ?? '';
  const delimiter = req.query.get('delimiter') ?? '';
  const names = Object.keys(bucket.objects).filter((n) => n.startsWith(prefix)).sort();
  const entries: { key: string; prefix?: string; item?: ObjectRecord }[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const rest = name.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    if (cut >= 0) {
      const p = prefix + rest.slice(0, cut + delimiter.length);
      if (!seen.has(p)) {
        seen.add(p);
        entries.push({ key: p, prefix: p });
      }
    } else {
      entries.push({ key: name, item: bucket.objects[name]! });
    }
  }
  const page = paginate(entries, req.query.get('maxResults'), req.query.get('pageToken'), 1000);
  const items = page.items.filter((e) => e.item).map((e) => renderObject(ctx, e.item!));
  const prefixes = page.items.filter((e) => e.prefix).map((e) => e.prefix!);
  return ok({
    kind: 'storage#objects',
    ...(items.length ? { items } : {}),
    ...(prefixes.length ? { prefixes } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  });
}

function getObject(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const bucket = getBucket(ctx, req.params.bucket!);
  const name = req.params.object!;
  const o = bucket.objects[name];
  const generation = req.query.get('generation');
  if (!o || (generation && generation !== o.generation)) throw notFound(`No such object: ${bucket.name}/${name}`);
  if (req.query.get('alt') === 'media') return media(req, ctx, o);
  return ok(renderObject(ctx, o));
}

/** Object bytes, honouring `Range: bytes=N-` / `N-M` (206, or 416 past the end). */
function media(req: SandboxRequest, ctx: ApiContext, o: ObjectRecord): SandboxResponse {
  const data = fs.readFileSync(blobFile(ctx, o.blob));
  const headers: Record<string, string> = {
    'content-type': o.contentType,
    'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
    'x-goog-generation': o.generation,
    'x-goog-stored-content-length': String(data.length),
  };
  const range = String(req.headers.range ?? '').match(/^bytes=(\d+)-(\d*)$/);
  if (!range) return { status: 200, body: data, headers };
  const start = Number(range[1]);
  if (start >= data.length) return { status: 416, body: '', headers: { 'content-range': `bytes */${data.length}` } };
  const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
  return { status: 206, body: data.subarray(start, end + 1), headers: { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}` } };
}

function deleteObject(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const bucket = getBucket(ctx, req.params.bucket!);
  const name = req.params.object!;
  const o = bucket.objects[name];
  const generation = req.query.get('generation');
  if (!o || (generation && generation !== o.generation)) throw notFound(`No such object: ${bucket.name}/${name}`);
  checkPreconditions(req, o);
  removeBlob(ctx, o);
  delete bucket.objects[name];
  ctx.save();
  return { status: 204 };
}

// ------------------------------------------------------------------------------------------ buckets

function createBucketRecord(ctx: ApiContext, project: ProjectState, body: BucketBody, opts: { system?: boolean } = {}): BucketRecord {
  const name = body.name ?? '';
  if (!name) throw invalidArgument('Required value: name (the bucket name).');
  if (!opts.system) {
    const problem = bucketNameProblem(name);
    if (problem) throw invalidArgument(`Invalid bucket name: '${name}': ${problem}.`);
  }
  const existing = findBucket(ctx, name);
  if (existing) {
    throw existing.projectId === project.projectId
      ? new ApiError(409, 'Your previous request to create the named bucket succeeded and you already own it.', 'CONFLICT')
      : new ApiError(409, 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.', 'CONFLICT');
  }
  const { location, locationType } = normaliseLocation(body.location);
  const storageClass = String(body.storageClass ?? 'STANDARD').toUpperCase();
  if (!STORAGE_CLASSES.includes(storageClass)) throw invalidArgument(`Invalid value for storageClass: '${body.storageClass}'.`);
  const ubla = !!body.iamConfiguration?.uniformBucketLevelAccess?.enabled;
  const now = ctx.now();
  const policy = {
    version: 1,
    bindings: [
      { role: 'roles/storage.legacyBucketOwner', members: [`projectEditor:${project.projectId}`, `projectOwner:${project.projectId}`] },
      { role: 'roles/storage.legacyBucketReader', members: [`projectViewer:${project.projectId}`] },
    ],
  };
  const bucket: BucketRecord = {
    name,
    projectId: project.projectId,
    location,
    locationType,
    storageClass,
    timeCreated: now,
    updated: now,
    metageneration: 1,
    iamConfiguration: {
      bucketPolicyOnly: { enabled: ubla, ...(ubla ? { lockedTime: lockTime(now) } : {}) },
      uniformBucketLevelAccess: { enabled: ubla, ...(ubla ? { lockedTime: lockTime(now) } : {}) },
      publicAccessPrevention: body.iamConfiguration?.publicAccessPrevention ?? 'inherited',
    },
    ...(body.labels ? { labels: validateLabels(body.labels) } : {}),
    ...(body.lifecycle ? { lifecycle: checkLifecycle(body.lifecycle) } : {}),
    ...(body.versioning ? { versioning: { enabled: !!body.versioning.enabled } } : {}),
    softDeletePolicy: { retentionDurationSeconds: '604800', effectiveTime: timestamp(now) },
    iamPolicy: { ...policy, etag: base64Etag(policy) },
    objects: {},
  };
  bucketsOf(project)[name] = bucket;
  ctx.save();
  return bucket;
}

function lockTime(now: string): string {
  return timestamp(new Date(Date.parse(now) + 90 * 86_400_000).toISOString());
}

const LIFECYCLE_ACTIONS = ['Delete', 'SetStorageClass', 'AbortIncompleteMultipartUpload'];

function checkLifecycle(lifecycle: NonNullable<BucketBody['lifecycle']>): { rule: unknown[] } {
  const rules = lifecycle.rule ?? [];
  for (const [i, r] of rules.entries()) {
    if (!LIFECYCLE_ACTIONS.includes(r.action.type)) throw invalidArgument(`Invalid value for lifecycle.rule[${i}].action.type: '${r.action.type}'.`);
    if (Object.keys(r.condition).length === 0) throw invalidArgument(`Invalid value for lifecycle.rule[${i}].condition: a rule needs at least one condition.`);
    if (r.condition.age !== undefined && (!Number.isInteger(r.condition.age) || r.condition.age < 0)) {
      throw invalidArgument(`Invalid value for lifecycle.rule[${i}].condition.age: '${r.condition.age}'.`);
    }
  }
  return { rule: rules };
}

function createBucket(req: SandboxRequest, ctx: ApiContext) {
  const projectId = req.query.get('project');
  if (!projectId) throw invalidArgument('Required parameter: project.');
  const project = ctx.project(projectId);
  requireApi(ctx, project.projectId, API);
  return ok(renderBucket(ctx, createBucketRecord(ctx, project, parseBody(bucketBody, req.json))));
}

function listBuckets(req: SandboxRequest, ctx: ApiContext) {
  const projectId = req.query.get('project');
  if (!projectId) throw invalidArgument('Required parameter: project.');
  const project = ctx.project(projectId);
  requireApi(ctx, project.projectId, API);
  const prefix = req.query.get('prefix') ?? '';
  const buckets = Object.values(bucketsOf(project)).filter((b) => b.name.startsWith(prefix)).sort((a, b) => a.name.localeCompare(b.name));
  const page = paginate(buckets, req.query.get('maxResults'), req.query.get('pageToken'), 1000);
  return ok({
    kind: 'storage#buckets',
    ...(page.items.length ? { items: page.items.map((b) => renderBucket(ctx, b)) } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  });
}

function patchBucket(req: SandboxRequest, ctx: ApiContext) {
  const b = getBucket(ctx, req.params.bucket!);
  const body = parseBody(bucketBody, req.json);
  const want = req.query.get('ifMetagenerationMatch');
  if (want !== null && want !== String(b.metageneration)) throw failedPrecondition('At least one of the pre-conditions you specified did not hold.');
  if ('labels' in body) {
    if (body.labels === null) delete b.labels;
    else {
      const merged = { ...(b.labels ?? {}), ...validateLabels(body.labels) };
      for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
      b.labels = merged;
    }
  }
  if ('lifecycle' in body) {
    if (!body.lifecycle || body.lifecycle.rule?.length === 0) delete b.lifecycle;
    else b.lifecycle = checkLifecycle(body.lifecycle);
  }
  if (body.storageClass) {
    const sc = String(body.storageClass).toUpperCase();
    if (!STORAGE_CLASSES.includes(sc)) throw invalidArgument(`Invalid value for storageClass: '${body.storageClass}'.`);
    b.storageClass = sc;
  }
  if (body.versioning) b.versioning = { enabled: !!body.versioning.enabled };
  if (body.iamConfiguration?.uniformBucketLevelAccess) {
    const enabled = !!body.iamConfiguration.uniformBucketLevelAccess.enabled;
    b.iamConfiguration.uniformBucketLevelAccess = { enabled, ...(enabled ? { lockedTime: lockTime(ctx.now()) } : {}) };
    b.iamConfiguration.bucketPolicyOnly = b.iamConfiguration.uniformBucketLevelAccess;
  }
  if (body.iamConfiguration?.publicAccessPrevention) b.iamConfiguration.publicAccessPrevention = body.iamConfiguration.publicAccessPrevention;
  if (body.location && normaliseLocation(body.location).location !== b.location) throw invalidArgument('Invalid value for location: the location of a bucket cannot be changed.');
  b.metageneration += 1;
  b.updated = ctx.now();
  ctx.save();
  return ok(renderBucket(ctx, b));
}

function deleteBucket(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const b = getBucket(ctx, req.params.bucket!);
  if (Object.keys(b.objects).length) throw new ApiError(409, 'The bucket you tried to delete is not empty.', 'CONFLICT');
  delete bucketsOf(ctx.project(b.projectId))[b.name];
  ctx.save();
  return { status: 204 };
}

function renderPolicy(b: BucketRecord) {
  return { kind: 'storage#policy', resourceId: `projects/_/buckets/${b.name}`, version: b.iamPolicy.version, etag: b.iamPolicy.etag, bindings: b.iamPolicy.bindings };
}

function setBucketPolicy(req: SandboxRequest, ctx: ApiContext) {
  const b = getBucket(ctx, req.params.bucket!);
  const body = parseBody(bucketPolicyBody, req.json);
  // Cloud Storage reports a stale etag as a failed precondition (412).
  if (body.etag && !sameEtag(body.etag, b.iamPolicy.etag)) throw failedPrecondition('At least one of the pre-conditions you specified did not hold.');
  const bindings = (body.bindings ?? []).filter((x) => x.members?.length);
  for (const [i, x] of bindings.entries()) {
    if (!/^roles\//.test(x.role) && !/^projects\/[^/]+\/roles\//.test(x.role)) throw invalidArgument(`Invalid value for bindings[${i}].role: '${x.role}'.`);
  }
  const policy = { version: body.version ?? 1, bindings };
  b.iamPolicy = { ...policy, etag: base64Etag({ ...policy, previous: b.iamPolicy.etag }) };
  ctx.save();
  return ok(renderPolicy(b));
}

// ------------------------------------------------------------------------------------------ module

const bucketRoute = (handler: (req: SandboxRequest, ctx: ApiContext) => SandboxResponse) => (req: SandboxRequest, ctx: ApiContext) => {
  const b = getBucket(ctx, req.params.bucket!);
  requireApi(ctx, b.projectId, API);
  return handler(req, ctx);
};

const isStorageHost = (host: string) => host === 'storage.googleapis.com';

export const storage: ApiModule = {
  name: 'storage',
  routes: [
    { method: 'POST', path: '/storage/v1/b', latency: 'bucketCreate', handler: createBucket },
    { method: 'GET', path: '/storage/v1/b', handler: listBuckets },
    { method: 'GET', path: '/storage/v1/b/{bucket}', handler: bucketRoute((req, ctx) => ok(renderBucket(ctx, getBucket(ctx, req.params.bucket!)))) },
    { method: 'PATCH', path: '/storage/v1/b/{bucket}', handler: bucketRoute(patchBucket) },
    { method: 'DELETE', path: '/storage/v1/b/{bucket}', latency: 'delete', handler: bucketRoute(deleteBucket) },
    { method: 'GET', path: '/storage/v1/b/{bucket}/iam', handler: bucketRoute((req, ctx) => ok(renderPolicy(getBucket(ctx, req.params.bucket!)))) },
    { method: 'PUT', path: '/storage/v1/b/{bucket}/iam', handler: bucketRoute(setBucketPolicy) },
    {
      method: 'GET',
      path: '/storage/v1/b/{bucket}/storageLayout',
      handler: bucketRoute((req, ctx) => {
        const b = getBucket(ctx, req.params.bucket!);
        return ok({ kind: 'storage#storageLayout', bucket: b.name, location: b.location, locationType: b.locationType, hierarchicalNamespace: { enabled: false } });
      }),
    },
    { method: 'GET', path: '/storage/v1/b/{bucket}/managedFolders', handler: bucketRoute(() => ok({ kind: 'storage#managedFolders' })) },
    { method: 'GET', path: '/storage/v1/b/{bucket}/o', handler: bucketRoute(listObjects) },
    { method: 'GET', path: '/storage/v1/b/{bucket}/o/{object*}', handler: bucketRoute(getObject) },
    { method: 'DELETE', path: '/storage/v1/b/{bucket}/o/{object*}', handler: bucketRoute(deleteObject) },
    { method: 'GET', path: '/download/storage/v1/b/{bucket}/o/{object*}', handler: bucketRoute(getObject) },
    { method: 'POST', path: '/upload/storage/v1/b/{bucket}/o', handler: bucketRoute(startUpload) },
    { method: 'POST', path: '/resumable/upload/storage/v1/b/{bucket}/o', handler: bucketRoute(startUpload) },
    { method: 'PUT', path: '/upload/storage/v1/b/{bucket}/o', handler: continueUpload },
    { method: 'PUT', path: '/resumable/upload/storage/v1/b/{bucket}/o', handler: continueUpload },
    {
      // https://storage.googleapis.com/<bucket>/<object> (Cloud Build's log tailer, through the TLS proxy).
      method: 'GET',
      path: '/{bucket}/{object*}',
      host: isStorageHost,
      handler: (req, ctx) => {
        const o = findBucket(ctx, req.params.bucket!)?.objects[req.params.object!];
        if (!o) return { status: 404, body: '<?xml version=\'1.0\' encoding=\'UTF-8\'?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>', headers: { 'content-type': 'application/xml; charset=UTF-8' } };
        return media(req, ctx, o);
      },
    },
  ],
};
