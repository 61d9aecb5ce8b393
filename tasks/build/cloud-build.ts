// One image build on Cloud Build: a generated build config (temporary file), the service's upload (exactly
// the files its Dockerfile reaches, staged in a temporary folder) sent with `gcloud builds submit --async`,
// the build polled with progress until it ends, its log copied into the task's log, and the pushed
// image's digest read back. Tags: a UTC timestamp and `latest`.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import type { ResolvedService } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { z } from 'zod';
import * as shapes from '../../lib/gcp/resources.js';
import { withTempFile } from '../shared/common.js';
import { readBuild, readObjectText } from '../shared/cloud-reads.js';
import { backoff, delay } from '../../lib/engine/wait.js';

/** Cloud Build's statuses while a build has not ended. */
const RUNNING = new Set(['STATUS_UNKNOWN', 'PENDING', 'QUEUED', 'WORKING']);
const BUILD_TIMEOUT_S = 1200;
const LOG_TAIL_LINES = 15;

export interface BuildRequest {
  service: ResolvedService;
  /** Absolute build context directory. */
  contextDir: string;
  /** The files to upload, relative to the context. */
  files: string[];
  /** The Dockerfile, relative to the context. */
  dockerfile: string;
  tag: string;
}

/** Copies `files` of `contextDir` into a temporary folder: gcloud uploads that folder, so nothing else can travel. */
async function withStagedUpload<T>(contextDir: string, files: string[], fn: (dir: string, ignoreFile: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gcp-tasks-upload-'));
  try {
    const stage = path.join(dir, 'context');
    for (const file of files) {
      await mkdir(path.dirname(path.join(stage, file)), { recursive: true });
      await copyFile(path.join(contextDir, file), path.join(stage, file));
    }
    await mkdir(stage, { recursive: true });
    // The folder holds exactly the upload: an ignore file that excludes nothing keeps gcloud's defaults out.
    const ignoreFile = path.join(dir, 'upload.gcloudignore');
    await writeFile(ignoreFile, '# gcp-tasks staged exactly the files this build reaches\n');
    return await fn(stage, ignoreFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}


/** `20251126-004512`: sortable, unique per service and second, valid as a Docker tag. */
export function timestampTag(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** The build config: one docker build of the service's Dockerfile (relative to its build context), pushed with both tags. */
export function buildConfig(service: ResolvedService, tag: string, labels: Record<string, string>, dockerfile = service.dockerfile): object {
  const images = [`${service.image}:${tag}`, `${service.image}:latest`];
  return {
    steps: [
      {
        name: 'gcr.io/cloud-builders/docker',
        args: ['build', '--file', dockerfile, ...images.flatMap((i) => ['--tag', i]), ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '.'],
      },
    ],
    images,
    tags: ['gcp-tasks', service.key, labels.environment].filter(Boolean),
    timeout: `${BUILD_TIMEOUT_S}s`,
  };
}

/** What `builds submit --async` prints: the queued build (a list of one in some gcloud versions). */
const submittedBuild = z.union([shapes.build, z.array(shapes.build)]);

/** Submits, waits and returns the digest reference `REGION-docker.pkg.dev/P/REPO/SERVICE@sha256:…` (undefined in dry-run). */
export async function runCloudBuild(ctx: TaskContext, req: BuildRequest): Promise<string | undefined> {
  const config = JSON.stringify(buildConfig(req.service, req.tag, ctx.infra.labels, req.dockerfile), null, 2);
  const submitted = await withTempFile('cloudbuild.json', config, (configFile) =>
    withStagedUpload(req.contextDir, req.files, (dir, ignoreFile) =>
      ctx.gcloud.mutate(submittedBuild, ['builds', 'submit', dir, `--config=${configFile}`, `--ignore-file=${ignoreFile}`, '--async']),
    ),
  );
  if (ctx.dryRun) return undefined;
  const id = (Array.isArray(submitted) ? submitted[0] : submitted)?.id;
  if (!id) throw new UserError(`Cloud Build accepted the build of ${req.service.key} but returned no build id.`, { hint: 'Look for it with `gcloud builds list --limit=5`.' });
  ctx.log.info(`build ${id} submitted (${req.service.image}:${req.tag})`);

  const build = await waitForBuild(ctx, id);
  const log = await fetchLog(ctx, build);
  if (log) ctx.log.debug(`Cloud Build log of ${id}:\n${log}`);
  if (build.status !== 'SUCCESS') throw buildFailure(ctx, req.service, build, log);
  return digestOf(ctx, req, build);
}

async function waitForBuild(ctx: TaskContext, id: string): Promise<shapes.Build> {
  const deadline = Date.now() + (BUILD_TIMEOUT_S + 120) * 1000;
  let last = '';
  for (let i = 0; ; i++) {
    const build = await readBuild(ctx, id);
    if (!build) throw new UserError(`Cloud Build lost track of build ${id}.`, { hint: `Check \`gcloud builds describe ${id} --project=${ctx.project}\`.` });
    const status = build.status ?? 'STATUS_UNKNOWN';
    const steps = build.steps?.length ? ` (step ${Math.max(1, build.steps.filter((s) => s.status === 'SUCCESS').length + 1)}/${build.steps.length})` : '';
    if (status + steps !== last) ctx.log.info(`build ${id}: ${status.toLowerCase()}${RUNNING.has(status) ? steps : ''}`);
    last = status + steps;
    if (!RUNNING.has(status)) return build;
    if (Date.now() > deadline) throw new UserError(`build ${id} is still ${status} after ${BUILD_TIMEOUT_S + 120} s.`, { hint: `Follow it with \`gcloud builds log --stream ${id} --project=${ctx.project}\`.` });
    // Quick at first (a build whose steps are all cached ends within seconds), then every 5 s at most.
    await delay(backoff(i, 250, 5000), ctx.signal);
    if (ctx.signal.aborted) throw new UserError(`interrupted while build ${id} was ${status}`, { hint: `It may still run: \`gcloud builds cancel ${id} --project=${ctx.project}\`.` });
  }
}

/** The build's log object (`log-<id>.txt` in its logs bucket), or undefined when it cannot be read. */
async function fetchLog(ctx: TaskContext, build: shapes.Build): Promise<string | undefined> {
  if (!build.logsBucket) return undefined;
  const bucket = build.logsBucket.replace(/^gs:\/\//, '').replace(/\/$/, '');
  try {
    return (await readObjectText(ctx, bucket, `log-${build.id}.txt`)) ?? undefined;
  } catch (error) {
    ctx.log.warn(`could not read the log of build ${build.id}: ${(error as Error).message}`);
    return undefined;
  }
}

function buildFailure(ctx: TaskContext, service: ResolvedService, build: shapes.Build, log: string | undefined): UserError {
  const reason = build.failureInfo?.detail || build.statusDetail || 'no reason given';
  const tail = log ? log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).map((l) => `    ${l}`).join('\n') : '';
  return new UserError(
    `Cloud Build ${build.id} of ${service.key} ended with ${build.status}: ${reason}${tail ? `\n  last lines of the build log:\n${tail}` : ''}`,
    {
      hint: `${service.key} was not deployed (what runs now is unchanged). Full log: ${ctx.paths.logFile}, or \`gcloud builds log ${build.id} --project=${ctx.project}\`${build.logUrl ? ` (${build.logUrl})` : ''}.`,
    },
  );
}

/** The digest of the image just pushed: from the build's results, else from the registry by its timestamp tag. */
async function digestOf(ctx: TaskContext, req: BuildRequest, build: shapes.Build): Promise<string> {
  const tagged = `${req.service.image}:${req.tag}`;
  const fromBuild = build.results?.images?.find((i) => i.name === tagged || i.name === `${req.service.image}:latest`)?.digest;
  if (fromBuild) return `${req.service.image}@${fromBuild}`;
  const image = (await imagesOf(ctx, req.service.image)).find((i) => tagsOf(i).includes(req.tag));
  if (!image?.version) {
    throw new UserError(`build ${build.id} of ${req.service.key} succeeded, but ${tagged} is not in Artifact Registry.`, {
      hint: `Check \`gcloud artifacts docker images list ${req.service.image} --include-tags --project=${ctx.project}\`.`,
    });
  }
  return `${req.service.image}@${image.version}`;
}


/** The images of one service (`REGION-docker.pkg.dev/P/REPO/SERVICE`), listed through their repository. */
export async function imagesOf(ctx: TaskContext, imagePath: string): Promise<shapes.DockerImageListing[]> {
  const repository = imagePath.slice(0, imagePath.lastIndexOf('/'));
  const images = (await ctx.gcloud.read(shapes.dockerImageListing.array(), ['artifacts', 'docker', 'images', 'list', repository, '--include-tags'])) ?? [];
  return images.filter((i) => i.package === imagePath);
}

/** gcloud prints tags as a list (JSON) or a comma-separated string, depending on the version. */
export function tagsOf(image: shapes.DockerImageListing): string[] {
  return Array.isArray(image.tags) ? image.tags : (image.tags ?? '').split(',').map((t) => t.trim()).filter(Boolean);
}
