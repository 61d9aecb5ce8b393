// registry:create — the Artifact Registry docker repository in GCP_REGION, labelled, and docker's
// authentication for it through gcloud (only on a real run with docker installed).
import { access, constants, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { defineTask } from '../../lib/index.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { createOrAdopt, guardOwnership, labelsFlag, missingLabels, recordReports, type ResourceReport } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { readRepository } from '../shared/cloud-reads.js';

async function ensureRepository(ctx: TaskContext): Promise<ResourceReport> {
  const { registry, labels } = ctx.infra;
  const resource = `registry ${registry.path}`;
  const where = [registry.name, `--location=${registry.location}`];
  const describe = () => readRepository(ctx, registry.location, registry.name);
  let repo = await describe();
  if (!repo) {
    repo = await createOrAdopt(resource, () => ctx.gcloud.mutate(['artifacts', 'repositories', 'create', ...where, `--repository-format=${registry.format}`,
      `--labels=${labelsFlag(labels)}`, `--description=${ctx.infra.app} container images (${ctx.env})`]), describe);
    if (!repo) {
      ctx.log.success(`created ${resource}`);
      return { resource, state: 'created', changes: [] };
    }
  }
  guardOwnership(ctx, resource, repo.labels, { adopt: registry.adopt, rename: 'rename the registry in tasks.config.ts' });
  if (repo.format && repo.format.toLowerCase() !== registry.format) {
    throw new UserError(`${resource} exists with format ${repo.format}, not ${registry.format}.`, {
      hint: 'A repository cannot change its format: rename the registry in tasks.config.ts or delete the repository.',
    });
  }
  const missing = missingLabels(repo.labels, labels);
  if (missing.length === 0) return { resource, state: 'unchanged', changes: [] };
  await ctx.gcloud.mutate(['artifacts', 'repositories', 'update', ...where, `--update-labels=${labelsFlag(labels)}`]);
  ctx.log.success(`labelled ${resource} (${missing.join(', ')})`);
  return { resource, state: 'updated', changes: missing.map((k) => `label ${k}`) };
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return Promise.any(dirs.map((dir) => access(path.join(dir, command), constants.X_OK))).then(() => true, () => false);
}

async function dockerUsesGcloudFor(host: string): Promise<boolean> {
  const file = path.join(process.env.DOCKER_CONFIG || path.join(homedir(), '.docker'), 'config.json');
  const config = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { credHelpers?: Record<string, string> }, () => ({}) as { credHelpers?: Record<string, string> });
  return config.credHelpers?.[host] === 'gcloud';
}

/**
 * Lets a local docker push to and pull from the registry with gcloud's credentials: `gcloud auth
 * configure-docker` adds a credential helper line for the host to docker's config ($DOCKER_CONFIG or
 * ~/.docker), as Google's documentation has users do. Builds run on Cloud Build and need none of this, so it
 * is skipped when docker is not installed.
 */
async function configureDockerAuth(ctx: TaskContext): Promise<string> {
  const host = ctx.infra.registry.host;
  if (!(await onPath('docker'))) return 'skipped (docker not installed; Cloud Build needs none)';
  if (await dockerUsesGcloudFor(host)) return 'already configured';
  await ctx.gcloud.mutate(['auth', 'configure-docker', host], { project: false, json: false });
  return 'configured';
}

export const registryCreate = defineTask({
  name: TASK.registryCreate,
  description: 'Create the Artifact Registry docker repository in GCP_REGION (labelled) and set up docker authentication',
  deps: [TASK.apisEnable],
  args: { adopt: 'manage an existing repository that lacks the tool\'s labels (it is labelled)' },
  inputs: { config: ({ infra }) => ({ registry: infra.registry, labels: infra.labels }) },
  check: async (ctx) => {
    const { registry } = ctx.infra;
    const repo = await readRepository(ctx, registry.location, registry.name);
    return repo !== null && missingLabels(repo.labels, ctx.infra.labels).length === 0;
  },
  run: async (ctx) => {
    const report = await ensureRepository(ctx);
    const dockerAuth = await configureDockerAuth(ctx);
    ctx.log.info(`docker authentication for ${ctx.infra.registry.host}: ${dockerAuth}`);
    recordReports(ctx, [report, { resource: `docker authentication for ${ctx.infra.registry.host}`, state: dockerAuth === 'configured' ? 'created' : 'unchanged', changes: [dockerAuth] }]);
    return { registry: ctx.infra.registry.path, host: ctx.infra.registry.host };
  },
});
