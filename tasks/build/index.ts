// build:<service>: the service's image on Cloud Build. Its Dockerfile preflight runs before anything (in
// dry-run too, for every planned service at once), so a refused Dockerfile uploads nothing. Cached by
// exactly what it uploads (the files its Dockerfile reaches): a change elsewhere neither rebuilds nor, since
// the image digest is unchanged, redeploys. A failed build pushes nothing, so the last good record survives it.
import { existsSync } from 'node:fs';
import { UserError } from '../../lib/engine/errors.js';
import type { InfraConfig, ResolvedService } from '../../lib/gcp/infra.js';
import { defineTask } from '../../lib/index.js';
import type { FingerprintContext, PreflightContext, TaskDef } from '../../lib/engine/types.js';
import { describeUpload, ensureGcloudignore, listContext, readBuildSource, sourceGlobs, uploadBytes } from './build-source.js';
import { runCloudBuild, timestampTag } from './cloud-build.js';
import { assertDeployableEnv } from '../deploy/deploy-env.js';
import { preflight, preflightError, type PreflightService } from './dockerfile-check.js';
import { resolvedService } from '../deploy/run-service.js';
import { readWorkspace } from './workspace.js';
import { TASK } from '../shared/task-names.js';

type ServiceConfig = InfraConfig['services'][number];

export interface BuildOutput {
  [key: string]: string | number;
  /** `REGION-docker.pkg.dev/PROJECT/REPO/SERVICE@sha256:…` */
  image: string;
  /** What was uploaded: number of files and bytes. */
  uploadFiles: number;
  uploadBytes: number;
}

export function preflightService(service: ResolvedService): PreflightService {
  return { key: service.key, context: service.context, dockerfile: service.dockerfile, packageDir: service.packageDir || undefined, workspacePackage: service.workspacePackage };
}

/**
 * What the service's build would upload, read once per run for its preflight and its fingerprint; a build
 * context several services share (a monorepo's root) is walked once for all of them.
 */
const buildSourceOf = (ctx: FingerprintContext, service: ResolvedService) =>
  ctx.once(`build-source:${service.key}`, () =>
    readBuildSource(ctx.paths.appRoot, preflightService(service), (dir, gcloudignore) => ctx.once(`build-context:${dir}\0${gcloudignore}`, () => listContext(dir, gcloudignore))),
  );

/** The Dockerfile preflight: every problem of this service's build, before any upload. */
export function checkBuild(ctx: PreflightContext, key: string): void {
  const service = resolvedService(ctx.infra, key);
  const appRoot = ctx.paths.appRoot;
  if (!existsSync(appRoot)) {
    throw new UserError(`The app root ${appRoot} does not exist.`, { hint: 'Set APP_ROOT (or appRoot in tasks.config.ts) to the app monorepo.' });
  }
  const target = preflightService(service);
  const workspace = service.workspacePackage ? ctx.once('workspace', () => readWorkspace(appRoot)) : undefined;
  const { problems } = preflight(appRoot, target, workspace, buildSourceOf(ctx, service));
  if (problems.length) throw preflightError(target, problems);
}

export function buildTask(config: ServiceConfig): TaskDef<BuildOutput> {
  const key = config.name;
  return defineTask<BuildOutput>({
    name: TASK.build(key),
    description: `Build the ${key} image on Cloud Build (Dockerfile preflight; tags <timestamp> and latest)`,
    // secrets:env first: a deploy whose env file names a missing secret stops before any build.
    deps: [TASK.registryCreate, TASK.secretsEnv],
    inputs: {
      files: (fx) => {
        const service = resolvedService(fx.infra, key);
        return sourceGlobs(fx.paths.appRoot, service, () => buildSourceOf(fx, service));
      },
      config: (fx) => {
        const service = resolvedService(fx.infra, key);
        return { image: service.image, context: service.context, dockerfile: service.dockerfile, labels: fx.infra.labels };
      },
    },
    // A failed build pushes nothing: the image of the last good build is still the one to deploy.
    keepRecordOnFailure: true,
    preflight(ctx) {
      assertDeployableEnv(ctx);
      checkBuild(ctx, key);
    },
    async run(ctx) {
      const service = resolvedService(ctx.infra, key);
      const appRoot = ctx.paths.appRoot;
      await ensureGcloudignore(appRoot, ctx);
      const source = readBuildSource(appRoot, preflightService(service));
      if (source.withheld.length) ctx.log.warn(`never uploaded (credentials and local clutter): ${source.withheld.join(', ')}`);
      const bytes = uploadBytes(source);
      ctx.log.output(`upload of ${key}: ${describeUpload(source.upload.length, bytes)} from ${service.context === '.' ? 'the app root' : service.context}`);
      const tag = timestampTag();
      const image = await runCloudBuild(ctx, { service, contextDir: source.contextDir, files: source.upload, dockerfile: source.dockerfile, tag });
      const upload = { uploadFiles: source.upload.length, uploadBytes: bytes };
      if (!image) return { image: `${service.image}:${tag}`, ...upload };
      ctx.log.success(`${service.image}:${tag} (and :latest) pushed as ${image}`);
      return { image, ...upload };
    },
  });
}
