// rollback:<service> all traffic back to the newest healthy revision with an older
// image than the one serving now (each candidate is health-checked at a tag URL first, so a revision that
// fails is skipped), or to a named revision (`-- --to=api-gateway-00002-abc`), or to an image tag (`-- --to=20251126-004512`:
// that image's digest is deployed with the same safe rollout). Prints the resulting traffic split.
// The deploy task's cache is left alone, so the next deploy:all does not undo the rollback; a source
// change (or `pnpm task deploy:<service> --force`) deploys forward again.
import { UserError } from '../../lib/engine/errors.js';
import type { InfraConfig, ResolvedService } from '../../lib/gcp/infra.js';
import { defineTask } from '../../lib/index.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import { imagesOf, tagsOf } from '../build/cloud-build.js';
import { guardEnvironment } from '../shared/common.js';
import { rollOut } from './rollout.js';
import { checkHealth, describeHealth, healthHeaders } from './health.js';
import { describeService, isReady, joinUrl, listRevisions, logsCommand, servingRevisions, tagUrl, trafficLines, type Revision, type RunService } from './run-service.js';
import { TASK } from '../shared/task-names.js';

type ServiceConfig = InfraConfig['services'][number];

const ROLLBACK_TAG = 'rollback';
/** How many older revisions a default rollback health-checks before giving up. */
const MAX_CANDIDATES = 3;

export function rollbackTask(config: ServiceConfig): TaskDef<{ service: string; traffic: string[] }> {
  const key = config.name;
  return defineTask({
    name: TASK.rollback(key),
    description: `Move all of ${key}'s traffic back to its previous revision (or --to=<revision|image tag>)`,
    always: true,
    args: { to: 'a revision name or an image tag (default: the newest healthy revision with an older image than the one serving)' },
    async run(ctx) {
      const service = ctx.infra.services.find((s) => s.key === key)!;
      const live = await describeService(ctx, service.name);
      if (!live) throw new UserError(`${service.name} is not deployed in ${ctx.project} (${ctx.region}): nothing to roll back.`, { hint: `Deploy it: pnpm task deploy:${key}` });
      guardEnvironment(ctx.infra, `Cloud Run service ${service.name}`, live.metadata.labels);
      const revisions = await listRevisions(ctx, service.name);
      const to = typeof ctx.args.to === 'string' ? ctx.args.to : undefined;

      if (to === undefined || revisions.some((r) => r.metadata.name === to)) {
        const candidates = to === undefined ? olderRevisions(live, revisions, service.name) : revisions.filter((r) => r.metadata.name === to);
        const target = await firstHealthy(ctx, service, candidates);
        await ctx.gcloud.mutate([...updateTraffic(ctx, service.name), `--to-revisions=${target}=100`, `--remove-tags=${ROLLBACK_TAG}`]);
      } else {
        const image = await imageByTag(ctx, service.image, to!, revisions);
        ctx.log.info(`${to} is an image tag: deploying ${image}`);
        await rollOut(ctx, service, image);
      }

      const after = ctx.dryRun ? live : await describeService(ctx, service.name);
      const traffic = after ? trafficLines(after) : [];
      ctx.log.output(`${service.name} traffic:\n${traffic.map((l) => `  ${l}`).join('\n')}`);
      return { service: service.name, traffic };
    },
  });
}

/**
 * Ready revisions created before the oldest one serving now, newest first, that run another image than
 * the serving ones: going back means going back to other code (a revision that failed its rollout and
 * runs the image now serving is no way back). Another configuration of the same image: -- --to=<revision>.
 */
function olderRevisions(live: RunService, revisions: Revision[], name: string): Revision[] {
  const serving = new Set(servingRevisions(live).map((r) => r.revisionName));
  const servingImages = new Set(revisions.filter((r) => serving.has(r.metadata.name)).map(revisionImage));
  const oldestServing = revisions.reduce((at, r, i) => (serving.has(r.metadata.name) ? i : at), -1);
  const older = revisions.slice(oldestServing + 1).filter((r) => isReady(r) && !servingImages.has(revisionImage(r)));
  if (!older.length) {
    throw new UserError(`${name} has no ready revision with an older image than the one serving now (${[...serving].join(', ') || 'none'}).`, {
      hint: 'Name one with -- --to=<revision or image tag>.',
    });
  }
  return older;
}

const revisionImage = (r: Revision) => r.spec?.containers?.[0]?.image;

/**
 * The first of `candidates` that passes its health check at a temporary tag URL (no traffic moves for
 * the check): a revision that once failed its rollout check, or broke since, is skipped.
 */
async function firstHealthy(ctx: TaskContext, service: ResolvedService, candidates: Revision[]): Promise<string> {
  const failures: string[] = [];
  for (const revision of candidates.slice(0, MAX_CANDIDATES)) {
    const name = revision.metadata.name;
    if (!isReady(revision)) {
      failures.push(`${name}: not ready`);
      continue;
    }
    await ctx.gcloud.mutate([...updateTraffic(ctx, service.name), `--update-tags=${ROLLBACK_TAG}=${name}`]);
    if (ctx.dryRun) return name;
    const url = tagUrl((await describeService(ctx, service.name))!, ROLLBACK_TAG);
    const health = url ? await checkHealth(joinUrl(url, service.healthPath), ctx.signal, await healthHeaders(ctx, service.public)) : undefined;
    if (health?.ok) return name;
    failures.push(`${name}: ${health ? describeHealth(health) : `no URL for the tag ${ROLLBACK_TAG}`}`);
    ctx.log.warn(`${failures.at(-1)}`);
  }
  await ctx.gcloud.mutate([...updateTraffic(ctx, service.name), `--remove-tags=${ROLLBACK_TAG}`]);
  throw new UserError(`${service.name}: no healthy revision to roll back to; traffic is unchanged.\n${failures.map((f) => `  ${f}`).join('\n')}`, {
    hint: `Name another with -- --to=<revision or image tag>; logs: ${logsCommand(ctx, service.name)}`,
  });
}

const updateTraffic = (ctx: TaskContext, name: string) => ['run', 'services', 'update-traffic', name, `--region=${ctx.region}`, '--platform=managed'];

/** The digest reference of the image tagged `tag`; a readable error listing what exists otherwise. */
async function imageByTag(ctx: TaskContext, imagePath: string, tag: string, revisions: Revision[]): Promise<string> {
  const images = await imagesOf(ctx, imagePath);
  const image = images.find((i) => tagsOf(i).includes(tag));
  if (image?.version) return `${imagePath}@${image.version}`;
  const tags = images.flatMap(tagsOf).filter((t) => t !== 'latest').sort().reverse().slice(0, 5);
  throw new UserError(`${tag} is neither a revision of this service nor a tag of ${imagePath}.`, {
    hint: `Revisions: ${revisions.slice(0, 5).map((r) => r.metadata.name).join(', ') || 'none'}\nImage tags: ${tags.join(', ') || 'none'}`,
  });
}
