// rollback:<service> (requirement 12.4): all traffic back to the revision before the one serving now, or
// to a named revision (`-- --to=api-gateway-00002-abc`), or to an image tag (`-- --to=20251126-004512`:
// that image's digest is deployed with the same safe rollout). Prints the resulting traffic split.
// The deploy task's cache is left alone, so the next deploy:all does not undo the rollback; a source
// change (or `pnpm task deploy:<service> --force`) deploys forward again.
import { UserError } from '../lib/errors.js';
import type { InfraConfig } from '../lib/infra.js';
import { defineTask } from '../lib/index.js';
import type { TaskContext, TaskDef } from '../lib/types.js';
import { tagsOf, type RegistryImage } from './cloud-build.js';
import { guardEnvironment } from './common.js';
import { rollOut } from './rollout.js';
import { describeService, isReady, listRevisions, servingRevisions, trafficLines, type Revision } from './run-service.js';

type ServiceConfig = InfraConfig['services'][number];

export function rollbackTask(config: ServiceConfig): TaskDef<{ service: string; traffic: string[] }> {
  const key = config.name;
  return defineTask({
    name: `rollback:${key}`,
    description: `Move all of ${key}'s traffic back to its previous revision (or --to=<revision|image tag>)`,
    always: true,
    args: { to: 'a revision name or an image tag (default: the revision before the one serving now)' },
    async run(ctx) {
      const service = ctx.infra.services.find((s) => s.key === key)!;
      const live = await describeService(ctx, service.name);
      if (!live) throw new UserError(`${service.name} is not deployed in ${ctx.project} (${ctx.region}): nothing to roll back.`, { hint: `Deploy it: pnpm task deploy:${key}` });
      guardEnvironment(ctx.infra, `Cloud Run service ${service.name}`, live.metadata.labels);
      const revisions = await listRevisions(ctx, service.name);
      const to = typeof ctx.args.to === 'string' ? ctx.args.to : undefined;

      const revision = to === undefined ? previousRevision(live, revisions, service.name) : revisions.find((r) => r.metadata.name === to);
      if (revision) {
        if (!isReady(revision)) throw new UserError(`${revision.metadata.name} is not a ready revision of ${service.name}: Cloud Run cannot route traffic to it.`, { hint: `Pick another: gcloud run revisions list --service=${service.name} --region=${ctx.region} --project=${ctx.project}` });
        await ctx.gcloud.mutate(['run', 'services', 'update-traffic', service.name, `--region=${ctx.region}`, '--platform=managed', `--to-revisions=${revision.metadata.name}=100`]);
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

/** The newest ready revision created before the oldest one serving traffic now. */
function previousRevision(live: Parameters<typeof servingRevisions>[0], revisions: Revision[], name: string): Revision {
  const serving = new Set(servingRevisions(live).map((r) => r.revisionName));
  const oldestServing = revisions.reduce((at, r, i) => (serving.has(r.metadata.name) ? i : at), -1);
  const previous = revisions.slice(oldestServing + 1).find(isReady);
  if (!previous) {
    throw new UserError(`${name} has no ready revision older than the one serving now (${[...serving].join(', ') || 'none'}).`, {
      hint: 'Name one with -- --to=<revision or image tag>.',
    });
  }
  return previous;
}

/** The digest reference of the image tagged `tag`; a readable error listing what exists otherwise. */
async function imageByTag(ctx: TaskContext, imagePath: string, tag: string, revisions: Revision[]): Promise<string> {
  const images = (await ctx.gcloud.read<RegistryImage[]>(['artifacts', 'docker', 'images', 'list', imagePath, '--include-tags'])) ?? [];
  const image = images.find((i) => tagsOf(i).includes(tag));
  if (image?.version) return `${imagePath}@${image.version}`;
  const tags = images.flatMap(tagsOf).filter((t) => t !== 'latest').sort().reverse().slice(0, 5);
  throw new UserError(`${tag} is neither a revision of this service nor a tag of ${imagePath}.`, {
    hint: `Revisions: ${revisions.slice(0, 5).map((r) => r.metadata.name).join(', ') || 'none'}\nImage tags: ${tags.join(', ') || 'none'}`,
  });
}
