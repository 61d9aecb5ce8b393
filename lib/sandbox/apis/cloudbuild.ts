// Cloud Build v1: builds create (from an uploaded source tarball), get, list, cancel.
//
// A build reads its `source.storageSource` (the gzip tarball `gcloud builds submit` uploads to
// `<project>_cloudbuild`) and evaluates its steps at once (lib/sandbox/build-steps.ts); it is QUEUED, then
// WORKING for the simulated build time, then SUCCESS or FAILURE. When it ends, its images are pushed to the
// sandbox's Artifact Registry (a missing repository fails the build, as a push would) and its log is written
// to `<logsBucket>/log-<id>.txt` (default bucket `<projectNumber>.cloudbuild-logs.googleusercontent.com`,
// readable with `gcloud storage cat`).
//
// Builds are answered with `options.logging: NONE` unless the client chose a logging mode, so that
// `gcloud builds submit` without --async waits for the status without tailing the hard-wired
// https://storage.googleapis.com log URL.
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { z } from 'zod';
import { ApiError, invalidArgument, notFound, ok, onOperationDone, paginate, parseBody, startOperation, timestamp, uuid, type OperationRecord } from '../google.js';
import { runBuildSteps, type BuildOutcome, type BuildStep } from '../build-steps.js';
import { parseArtifactImage } from '../images.js';
import { putDockerImage, repositoryExists } from './artifactregistry.js';
import { requireApi } from './serviceusage.js';
import { readObject, writeObject } from './storage.js';
import type { ApiContext, ApiModule, ProjectState, Route, SandboxRequest } from '../types.js';

const API = 'cloudbuild.googleapis.com';
const OPERATION_METADATA = 'type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata';
const FAILED_BUILD_FRACTION = 0.3;

/** A build request: the fields the sandbox reads; the rest is kept and answered as sent. */
const buildBody = z.looseObject({
  steps: z
    .array(
      z.looseObject({
        name: z.string().optional(),
        args: z.array(z.string()).optional(),
        env: z.array(z.string()).optional(),
        dir: z.string().optional(),
        id: z.string().optional(),
        entrypoint: z.string().optional(),
      }),
    )
    .optional(),
  images: z.array(z.string()).optional(),
  timeout: z.string().optional(),
  options: z.looseObject({ logging: z.string().optional(), substitutionOption: z.string().optional() }).optional(),
  substitutions: z.record(z.string(), z.string()).optional(),
  source: z.looseObject({ storageSource: z.looseObject({ bucket: z.string(), object: z.string() }).optional() }).optional(),
  logsBucket: z.string().optional(),
  tags: z.array(z.string()).optional(),
});
type BuildBody = z.infer<typeof buildBody>;
/** A request as kept: substitutions applied, every step named. */
type BuildRequest = BuildBody & { steps: BuildStep[]; images: string[] };

export interface CloudBuildState {
  builds: Record<string, BuildRecord>;
}

interface BuildRecord {
  id: string;
  projectId: string;
  operationId: string;
  createTime: string;
  /** Epoch ms: QUEUED before, WORKING after. */
  startAt: number;
  /** Epoch ms at which it ends. */
  finishAt: number;
  /** The request as received, substitutions applied. */
  request: BuildRequest;
  outcome: BuildOutcome;
  logsBucket: string;
  /** Set when the build ended (images pushed, log written) or was cancelled. */
  final?: { status: string; finishTime: string };
}

const buildsOf = (project: ProjectState): Record<string, BuildRecord> => ((project.cloudbuild ??= { builds: {} }).builds ??= {});

// --------------------------------------------------------------------------------------------- source

/** The files of a (gzip) tarball, by normalised relative path. */
async function extractTarball(data: Buffer): Promise<Map<string, Buffer>> {
  const raw = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^(\.\/)+/, '').replace(/^\/+/, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    extract.end(raw);
  });
  return files;
}

async function fetchSource(ctx: ApiContext, source: BuildBody['source']): Promise<{ files: Map<string, Buffer> } | { error: string }> {
  const storage = source?.storageSource;
  if (!storage) return { files: new Map() };
  const data = readObject(ctx, storage.bucket, storage.object);
  if (!data) return { error: `could not fetch source: gs://${storage.bucket}/${storage.object}: storage: object doesn't exist` };
  try {
    return { files: await extractTarball(data) };
  } catch (err) {
    return { error: `could not unpack source gs://${storage.bucket}/${storage.object}: ${(err as Error).message}` };
  }
}

// ---------------------------------------------------------------------------------------- substitutions

const BUILT_INS = ['PROJECT_ID', 'PROJECT_NUMBER', 'BUILD_ID', 'LOCATION', 'SERVICE_ACCOUNT_EMAIL', 'SERVICE_ACCOUNT', 'REPO_NAME', 'REPO_FULL_NAME', 'BRANCH_NAME', 'TAG_NAME', 'REF_NAME', 'COMMIT_SHA', 'SHORT_SHA', 'REVISION_ID', 'TRIGGER_NAME', 'TRIGGER_BUILD_CONFIG_PATH'];

/** Applies `$VAR` / `${VAR}` substitutions to the steps and images, with Cloud Build's checks. */
function substitute(build: BuildBody, steps: BuildStep[], builtIns: Record<string, string>): BuildRequest {
  const user = build.substitutions ?? {};
  for (const key of Object.keys(user)) {
    if (!/^_[A-Z0-9_]+$/.test(key)) throw invalidArgument(`invalid build: invalid substitution key "${key}": user-defined substitutions must start with _ and contain only uppercase letters, digits and _`);
  }
  const loose = build.options?.substitutionOption === 'ALLOW_LOOSE';
  const used = new Set<string>();
  const apply = (value: string) =>
    value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const key = (braced ?? bare)!;
      used.add(key);
      if (key in user) return user[key]!;
      if (key in builtIns) return builtIns[key]!;
      if (!key.startsWith('_')) throw invalidArgument(`invalid value for 'build.substitutions': key in the template "${key}" is not a valid built-in substitution`);
      if (loose) return '';
      throw invalidArgument(`invalid build: key in the template "${key}" is not matched in the substitution data; substitutions = map[${Object.entries(user).map(([k, v]) => `${k}:${v}`).join(' ')}]`);
    });
  const substituted = steps.map((s) => ({
    ...s,
    ...(s.args ? { args: s.args.map(apply) } : {}),
    ...(s.env ? { env: s.env.map(apply) } : {}),
    ...(s.dir ? { dir: apply(s.dir) } : {}),
  }));
  const images = (build.images ?? []).map(apply);
  const unused = Object.keys(user).filter((k) => !used.has(k));
  if (unused.length && !loose) throw invalidArgument(`invalid build: key "${unused[0]}" in the substitution data is not matched in the template`);
  return { ...build, steps: substituted, images };
}

// ------------------------------------------------------------------------------------------- rendering

const consoleUrl = (project: ProjectState, id: string) => `https://console.cloud.google.com/cloud-build/builds;region=global/${id}?project=${project.projectNumber}`;

function statusOf(build: BuildRecord, now = Date.now()): string {
  if (build.final) return build.final.status;
  return now < build.startAt ? 'QUEUED' : 'WORKING';
}

function renderBuild(ctx: ApiContext, project: ProjectState, build: BuildRecord) {
  const status = statusOf(build);
  const started = status !== 'QUEUED';
  const done = !!build.final;
  const req = build.request;
  const startTime = timestamp(new Date(build.startAt).toISOString());
  const finishTime = build.final ? timestamp(build.final.finishTime) : undefined;
  const steps = req.steps.map((step, i) => ({
    ...step,
    status: done ? (build.final!.status === 'CANCELLED' && build.outcome.stepStatuses[i] !== 'FAILURE' ? 'CANCELLED' : build.outcome.stepStatuses[i]) : started ? (i === 0 ? 'WORKING' : 'QUEUED') : 'QUEUED',
  }));
  const storage = req.source?.storageSource;
  const out: Record<string, unknown> = {
    name: `projects/${project.projectNumber}/locations/global/builds/${build.id}`,
    id: build.id,
    projectId: project.projectId,
    status,
    source: req.source,
    steps,
    createTime: timestamp(build.createTime),
    ...(started ? { startTime } : {}),
    ...(finishTime ? { finishTime } : {}),
    timeout: req.timeout ?? '600s',
    ...(req.images?.length ? { images: req.images } : {}),
    queueTtl: req.queueTtl ?? '3600s',
    logsBucket: build.logsBucket,
    ...(storage ? { sourceProvenance: { resolvedStorageSource: storage } } : {}),
    options: { ...(req.options ?? {}), logging: req.options?.logging ?? 'NONE' },
    logUrl: consoleUrl(project, build.id),
    ...(req.tags?.length ? { tags: req.tags } : {}),
    ...(req.substitutions ? { substitutions: req.substitutions } : {}),
    serviceAccount: req.serviceAccount ?? `projects/${project.projectId}/serviceAccounts/${project.projectNumber}-compute@developer.gserviceaccount.com`,
  };
  if (done && build.final!.status === 'SUCCESS' && build.outcome.images.length) {
    out.results = { images: build.outcome.images.map((i) => ({ name: i.ref, digest: i.digest })), buildStepImages: steps.map(() => '') };
  }
  if (done && build.final!.status === 'FAILURE' && build.outcome.failure) {
    out.failureInfo = build.outcome.failure;
    out.statusDetail = build.outcome.failure.detail;
  }
  return out;
}

// -------------------------------------------------------------------------------------------- handlers

function projectOf(req: SandboxRequest, ctx: ApiContext): ProjectState {
  const project = ctx.project(req.params.project!);
  requireApi(ctx, project.projectId, API);
  if (req.params.location && req.params.location !== 'global') requireRegion(req.params.location);
  return project;
}

function requireRegion(location: string): void {
  if (!/^[a-z]+-[a-z]+\d+$/.test(location)) throw invalidArgument(`Invalid location: ${location}.`);
}

function getBuild(project: ProjectState, id: string): BuildRecord {
  const build = buildsOf(project)[id];
  if (!build) throw notFound(`Requested entity was not found.`);
  return build;
}

/** Cloud Build's checks of a request; returns its steps, each named. */
function validate(body: BuildBody): BuildStep[] {
  if (!body.steps?.length) throw invalidArgument('invalid build: must specify at least one build step');
  const steps = body.steps.map((s, i) => {
    if (!s.name) throw invalidArgument(`invalid build: build step ${i} must specify name`);
    return { ...s, name: s.name };
  });
  if (body.timeout !== undefined && !/^\d+(\.\d+)?s$/.test(body.timeout)) throw invalidArgument(`invalid build: invalid timeout "${body.timeout}" (e.g. "600s")`);
  const logging = body.options?.logging;
  if (logging !== undefined && !['LOGGING_UNSPECIFIED', 'LEGACY', 'GCS_ONLY', 'STACKDRIVER_ONLY', 'CLOUD_LOGGING_ONLY', 'NONE'].includes(logging)) {
    throw invalidArgument(`invalid build: unknown options.logging "${logging}"`);
  }
  return steps;
}

async function createBuild(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const body = parseBody(buildBody, req.json);
  const steps = validate(body);
  const id = uuid(ctx);
  const request = substitute(body, steps, {
    PROJECT_ID: project.projectId,
    PROJECT_NUMBER: project.projectNumber,
    BUILD_ID: id,
    LOCATION: req.params.location ?? 'global',
    SERVICE_ACCOUNT_EMAIL: `${project.projectNumber}-compute@developer.gserviceaccount.com`,
    ...Object.fromEntries(BUILT_INS.filter((k) => !['PROJECT_ID', 'PROJECT_NUMBER', 'BUILD_ID', 'LOCATION', 'SERVICE_ACCOUNT_EMAIL'].includes(k)).map((k) => [k, ''])),
  });
  const source = await fetchSource(ctx, request.source);
  const outcome: BuildOutcome =
    'error' in source
      ? { status: 'FAILURE', failure: { type: 'FETCH_SOURCE_FAILED', detail: source.error }, stepStatuses: request.steps.map(() => 'CANCELLED'), images: [], log: [`starting build "${id}"`, '', 'FETCHSOURCE', `ERROR: ${source.error}`] }
      : runBuildSteps({ buildId: id, steps: request.steps, images: request.images, files: source.files });

  const duration = ctx.latency('build') * (outcome.status === 'SUCCESS' ? 1 : FAILED_BUILD_FRACTION);
  const now = Date.now();
  const build: BuildRecord = {
    id,
    projectId: project.projectId,
    operationId: '',
    createTime: ctx.now(),
    startAt: now + Math.min(1000, duration * 0.1),
    finishAt: now + duration,
    request,
    outcome,
    logsBucket: request.logsBucket ?? `gs://${project.projectNumber}.cloudbuild-logs.googleusercontent.com`,
  };
  buildsOf(project)[id] = build;
  const op = startOperation(ctx, { projectId: project.projectId, api: 'cloudbuild', kind: 'cloudbuild.build', latency: duration, id: uuid(ctx).replace(/-/g, ''), data: { buildId: id } });
  build.operationId = op.id;
  ctx.save();
  return ok({
    name: `projects/${project.projectNumber}/locations/global/operations/${op.id}`,
    metadata: { '@type': OPERATION_METADATA, build: renderBuild(ctx, project, build) },
  });
}

/** Ends a build: pushes its images (a missing repository fails it), writes its log. */
function finishBuild(ctx: ApiContext, project: ProjectState, build: BuildRecord): void {
  if (build.final) return;
  const outcome = build.outcome;
  if (outcome.status === 'SUCCESS' && outcome.images.length) {
    outcome.log.push('PUSH');
    for (const image of outcome.images) {
      const ref = parseArtifactImage(image.ref);
      const problem = !ref
        ? `the sandbox's registry only holds Artifact Registry images (LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE), not ${image.ref}`
        : !repositoryExists(ctx, ref.project, ref.location, ref.repository)
          ? `name unknown: Repository "${ref.repository}" not found`
          : null;
      if (problem) {
        outcome.status = 'FAILURE';
        outcome.failure = { type: 'USER_BUILD_STEP', detail: `failed to push ${image.ref}: ${problem}` };
        outcome.log.push(`Pushing ${image.ref}`, `ERROR: failed to push ${image.ref}: ${problem}`);
        break;
      }
      putDockerImage(ctx, { project: ref!.project, location: ref!.location, repository: ref!.repository, image: ref!.image, digest: image.digest, tags: ref!.tag ? [ref!.tag] : ['latest'], sizeBytes: image.sizeBytes });
      outcome.log.push(`Pushing ${image.ref}`, `The push refers to repository [${image.ref.replace(/:[^/:]+$/, '')}]`, `${ref!.tag ?? 'latest'}: digest: ${image.digest} size: 1570`);
    }
  }
  if (outcome.status === 'SUCCESS') outcome.log.push('DONE');
  build.final = { status: outcome.status, finishTime: ctx.now() };
  writeLog(ctx, project, build);
}

function writeLog(ctx: ApiContext, project: ProjectState, build: BuildRecord): void {
  const m = build.logsBucket.match(/^gs:\/\/([^/]+)\/?(.*)$/);
  if (!m) return;
  const prefix = m[2] ? `${m[2].replace(/\/$/, '')}/` : '';
  writeObject(ctx, project.projectId, m[1]!, `${prefix}log-${build.id}.txt`, build.outcome.log.join('\n') + '\n');
}

onOperationDone('cloudbuild.build', (ctx, op: OperationRecord) => {
  const project = ctx.project(op.projectId);
  const build = buildsOf(project)[String(op.data.buildId)];
  if (build) finishBuild(ctx, project, build);
});

function listBuilds(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const filter = req.query.get('filter');
  const wanted = filter ? statusFilter(filter) : null;
  const builds = Object.values(buildsOf(project))
    .sort((a, b) => b.createTime.localeCompare(a.createTime))
    .filter((b) => !wanted || wanted.includes(statusOf(b)))
    .map((b) => renderBuild(ctx, project, b));
  const page = paginate(builds, req.query.get('pageSize'), req.query.get('pageToken'), 50);
  return ok({ ...(page.items.length ? { builds: page.items } : {}), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
}

/** The one server-side filter gcloud sends (`builds list --ongoing`): `status="WORKING" OR status="QUEUED"`. */
function statusFilter(filter: string): string[] {
  const terms = filter.split(/\s+OR\s+/i).map((t) => t.trim().match(/^status\s*=\s*"?([A-Z_]+)"?$/));
  if (terms.some((t) => !t)) throw invalidArgument(`Invalid filter "${filter}": the sandbox supports status="…" terms joined by OR.`);
  return terms.map((t) => t![1]!);
}

function cancelBuild(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const build = getBuild(project, req.params.build!);
  if (build.final) throw new ApiError(400, `invalid build: build ${build.id} is already finished (${build.final.status})`, 'FAILED_PRECONDITION');
  build.final = { status: 'CANCELLED', finishTime: ctx.now() };
  ctx.save();
  return ok(renderBuild(ctx, project, build));
}

// ------------------------------------------------------------------------------------------ the module

/** Builds are served at `/v1/projects/{p}/builds…` and `/v1/projects/{p}/locations/{location}/builds…`. */
function routesAt(prefix: string): Route[] {
  return [
    { method: 'POST', path: `${prefix}/builds`, handler: createBuild },
    { method: 'GET', path: `${prefix}/builds`, handler: listBuilds },
    {
      method: 'GET',
      path: `${prefix}/builds/{build}`,
      handler: (req, ctx) => {
        const project = projectOf(req, ctx);
        return ok(renderBuild(ctx, project, getBuild(project, req.params.build!)));
      },
    },
    { method: 'POST', path: `${prefix}/builds/{build}:cancel`, handler: cancelBuild },
  ];
}

export const cloudbuild: ApiModule = {
  name: 'cloudbuild',
  routes: [...routesAt('/v1/projects/{project}'), ...routesAt('/v1/projects/{project}/locations/{location}')],
};
