// build:<service>: the service's image on Cloud Build, after a Dockerfile preflight that uploads nothing
// when it fails. Cached by the service's source closure: an unchanged service is not rebuilt, and since
// its output (the image digest) is unchanged, not redeployed either.
import { existsSync } from 'node:fs';
import { UserError } from '../../lib/engine/errors.js';
import type { InfraConfig } from '../../lib/gcp/infra.js';
import { defineTask } from '../../lib/index.js';
import type { TaskDef } from '../../lib/engine/types.js';
import { ensureGcloudignore, sourceClosure, sourceGlobs, uploadIgnoreText } from './build-source.js';
import { runCloudBuild, timestampTag } from './cloud-build.js';
import { assertDeployableEnv } from '../deploy/deploy-env.js';
import { preflight, preflightError } from './dockerfile-check.js';
import { resolvedService } from '../deploy/run-service.js';
import { readWorkspace } from './workspace.js';

type ServiceConfig = InfraConfig['services'][number];

export interface BuildOutput {
  [key: string]: string;
  /** `REGION-docker.pkg.dev/PROJECT/REPO/SERVICE@sha256:…` */
  image: string;
}

export function buildTask(config: ServiceConfig): TaskDef<BuildOutput> {
  const key = config.name;
  return defineTask<BuildOutput>({
    name: `build:${key}`,
    description: `Build the ${key} image on Cloud Build (Dockerfile preflight; tags <timestamp> and latest)`,
    deps: ['registry:create'],
    inputs: {
      files: (fx) => sourceGlobs(fx.paths.appRoot, { key, dockerfile: config.dockerfile, packageDir: config.packageDir }),
      config: (fx) => {
        const service = resolvedService(fx.infra, key);
        return { image: service.image, dockerfile: service.dockerfile, packageDir: service.packageDir, labels: fx.infra.labels };
      },
    },
    preflight: assertDeployableEnv,
    async run(ctx) {
      const service = resolvedService(ctx.infra, key);
      const appRoot = ctx.paths.appRoot;
      if (!existsSync(appRoot)) {
        throw new UserError(`The app root ${appRoot} does not exist.`, { hint: 'Set APP_ROOT (or appRoot in tasks.config.ts) to the DigiTwin Live monorepo.' });
      }
      const { problems } = preflight(appRoot, service, readWorkspace(appRoot));
      if (problems.length) throw preflightError(service, problems);

      const appIgnore = await ensureGcloudignore(appRoot, ctx);
      const tag = timestampTag();
      const image = await runCloudBuild(ctx, { service, appRoot, tag, ignoreText: uploadIgnoreText(appIgnore, sourceClosure(appRoot, service)) });
      if (!image) return { image: `${service.image}:${tag}` };
      ctx.log.success(`${service.image}:${tag} (and :latest) pushed as ${image}`);
      return { image };
    },
  });
}
