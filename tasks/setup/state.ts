// state:init and state:migrate — the Cloud Storage bucket a team shares its records, salt and lock in
// (`state` in tasks.config.ts, or GCP_TASKS_STATE). The bucket is versioned, so an earlier record can be
// recovered, has uniform access and public access prevention, and carries the tool's labels but no
// environment: it serves every environment, and cleanup never deletes it. Both tasks keep this machine's
// state for their own run (the bucket may not exist yet).
import { UserError } from '../../lib/engine/errors.js';
import { loadSalt, recordsDir, StateStore } from '../../lib/engine/cache.js';
import { defineTask } from '../../lib/index.js';
import { stateUrl, STATE_ENV } from '../../lib/gcp/state-bucket.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { isManaged, labelsFlag, missingLabels, type Labels } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { describeBucket } from './buckets.js';

/** The label that tells cleanup and a reader what the bucket is for. */
export const STATE_PURPOSE = { purpose: 'task-state' } as const;

function configured(ctx: TaskContext): NonNullable<TaskContext['stateBucket']> {
  if (ctx.stateBucket) return ctx.stateBucket;
  throw new UserError('No state bucket is configured.', {
    hint: `Add state: { bucket: '<name>', prefix: 'gcp-tasks' } to tasks.config.ts, or set ${STATE_ENV}=gs://<name>/gcp-tasks.`,
  });
}

const stateLabels = (ctx: TaskContext): Labels => ({ app: ctx.infra.app, 'managed-by': ctx.infra.managedBy, ...STATE_PURPOSE });

export const stateInit = defineTask({
  name: TASK.stateInit,
  description: 'Create the bucket for shared state (records, salt, lock): versioned, uniform access, no public access, labelled',
  always: true,
  run: async (ctx) => {
    const loc = configured(ctx);
    const url = `gs://${loc.bucket}`;
    const labels = stateLabels(ctx);
    const existing = await describeBucket(ctx, loc.bucket, 'choose another name');
    if (!existing) {
      await ctx.gcloud.mutate(['storage', 'buckets', 'create', url, `--location=${ctx.region}`, '--uniform-bucket-level-access', '--public-access-prevention'], { json: false });
      // `buckets create` takes neither labels nor versioning (gcloud 528).
      await ctx.gcloud.mutate(['storage', 'buckets', 'update', url, '--versioning', `--update-labels=${labelsFlag(labels)}`], { json: false });
      ctx.log.success(`created ${url}: state is shared at ${stateUrl(loc)}`);
      return { bucket: loc.bucket, created: true };
    }
    if (!isManaged(existing.labels, ctx.infra)) {
      throw new UserError(`${url} exists without this tool's labels (managed-by=${ctx.infra.managedBy}, app=${ctx.infra.app}): it is left alone.`, {
        hint: `Bucket names are global: choose another one. If the bucket is yours, label it first: gcloud storage buckets update ${url} --update-labels=${labelsFlag(labels)}`,
      });
    }
    const flags: string[] = [];
    if (!existing.versioning?.enabled) flags.push('--versioning');
    if (!existing.iamConfiguration?.uniformBucketLevelAccess?.enabled) flags.push('--uniform-bucket-level-access');
    if (existing.iamConfiguration?.publicAccessPrevention !== 'enforced') flags.push('--public-access-prevention');
    if (missingLabels(existing.labels, labels).length) flags.push(`--update-labels=${labelsFlag(labels)}`);
    if (flags.length) {
      ctx.log.warn(`${url} differs (${flags.map((f) => f.replace(/^--|=.*$/g, '')).join(', ')}): updating it`);
      await ctx.gcloud.mutate(['storage', 'buckets', 'update', url, ...flags], { json: false });
    }
    return { bucket: loc.bucket, created: false };
  },
});

export const stateMigrate = defineTask({
  name: TASK.stateMigrate,
  description: 'Copy this machine\'s records (and salt, when the bucket has none) of the project/env up to the state bucket',
  always: true,
  run: async (ctx) => {
    const loc = configured(ctx);
    const local = new StateStore(recordsDir(ctx.paths.stateDir, ctx.project, ctx.env));
    const remote = loc.records();
    // The same salt keeps env-value hashes, and so the copied records, matching.
    const seeded = await loc.seedSalt(loadSalt(ctx.paths.stateDir));
    const tasks = await local.list();
    let copied = 0;
    const kept: string[] = [];
    for (const task of tasks) {
      const record = await local.read(task);
      if (!record) continue;
      if (await remote.read(task)) {
        kept.push(task); // the bucket's record is the team's: never replaced by an older local one
        continue;
      }
      const { version: _version, ...rest } = record;
      await remote.write(rest);
      copied++;
    }
    ctx.log.success(`copied ${copied} record${copied === 1 ? '' : 's'} to ${stateUrl(loc)}${kept.length ? `; kept the bucket's own for ${kept.join(', ')}` : ''}`);
    if (!seeded) ctx.log.info('The bucket already had a salt: copied records with env inputs run once more, then are cached again.');
    return { copied, kept };
  },
});
