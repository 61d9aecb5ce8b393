// buckets:create — the Cloud Storage buckets of the environment: in GCP_REGION, uniform bucket-level
// access, labelled, with the lifecycle rules of the config. An existing bucket of this tool that differs is
// brought in line; one without its labels is left alone unless adopted.
import { UserError } from '../../lib/engine/errors.js';
import { defineTask } from '../../lib/index.js';
import * as shapes from '../../lib/gcp/resources.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { createOrAdopt, doneCreating, forEachResource, guardOwnership, isGcloudError, markCreating, wasCreating, labelsFlag, missingLabels, recordReports, withTempFile, type ResourceReport } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { readBucket } from '../shared/cloud-reads.js';

type Bucket = ResolvedInfra['buckets'][number];
interface LifecycleRule { action: { type: string; [k: string]: unknown }; condition: Record<string, unknown> }

/** The lifecycle configuration the config asks for: delete objects under each prefix after N days. */
export function lifecycleConfig(bucket: Pick<Bucket, 'lifecycle'>): { rule: LifecycleRule[] } {
  return {
    rule: bucket.lifecycle.map(({ prefix, ageDays }) => ({
      action: { type: 'Delete' },
      condition: { age: ageDays, matchesPrefix: [prefix] },
    })),
  };
}

/** Order-insensitive comparison key of a rule list (key order and number-vs-string ages ignored). */
function rulesKey(rules: LifecycleRule[] | undefined): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
    }
    return typeof value === 'number' ? String(value) : value;
  };
  return JSON.stringify((rules ?? []).map((r) => JSON.stringify(canonical(r))).sort());
}

export function lifecycleMatches(actual: shapes.Bucket['lifecycle'], bucket: Pick<Bucket, 'lifecycle'>): boolean {
  return rulesKey(actual?.rule) === rulesKey(lifecycleConfig(bucket).rule);
}

const url = (name: string) => `gs://${name}`;

/**
 * A bucket, or null. Bucket names are global, so a refusal usually means another project owns the name:
 * `rename` says how to pick another one.
 */
export async function describeBucket(ctx: TaskContext, name: string, rename: string): Promise<shapes.Bucket | null> {
  try {
    return await readBucket(ctx, name);
  } catch (error) {
    if (!isGcloudError(error, 'permission')) throw error;
    throw new UserError(`no permission to read bucket ${name}: ${error.message}`, {
      hint: `Bucket names are global: if another project owns ${name}, ${rename}. Otherwise grant your account roles/storage.admin on ${ctx.project}.`,
      cause: error,
    });
  }
}

async function ensureBucket(ctx: TaskContext, bucket: Bucket): Promise<ResourceReport> {
  const resource = `bucket ${bucket.name}`;
  const lifecycle = JSON.stringify(lifecycleConfig(bucket));
  const labels = `--update-labels=${labelsFlag(ctx.infra.labels)}`;
  const marker = `bucket-${bucket.name}`;
  const rename = `set ${bucket.envVar} to another name`;
  let existing = await describeBucket(ctx, bucket.name, rename);
  if (!existing) {
    if (!ctx.dryRun) await markCreating(ctx, marker);
    existing = await createOrAdopt(resource, () => withTempFile('lifecycle.json', lifecycle, (file) => ctx.gcloud.mutate(
      ['storage', 'buckets', 'create', url(bucket.name), `--location=${ctx.region}`, '--uniform-bucket-level-access', `--lifecycle-file=${file}`],
      { json: false },
    )), () => describeBucket(ctx, bucket.name, rename));
    if (!existing) {
      // `buckets create` takes no labels (gcloud 528); a rerun labels a bucket left unlabelled by a failure here.
      await ctx.gcloud.mutate(['storage', 'buckets', 'update', url(bucket.name), labels], { json: false });
      if (!ctx.dryRun) await doneCreating(ctx, marker);
      ctx.log.success(`created ${resource}`);
      return { resource, state: 'created', changes: [] };
    }
  }

  // An unlabelled bucket this tool started creating (interrupted before its labels) is its own.
  const ours = await wasCreating(ctx, marker);
  guardOwnership(ctx, resource, existing.labels, { adopt: bucket.adopt || ours, rename: `set ${bucket.envVar} to a name of its own` });
  if (existing.location && existing.location.toLowerCase() !== ctx.region) {
    throw new UserError(`${resource} is in ${existing.location.toLowerCase()}, not in ${ctx.region}.`, {
      hint: `A bucket cannot move: set ${bucket.envVar} to another name, or move its objects and delete it.`,
    });
  }
  const changes: string[] = [];
  const flags: string[] = [];
  if (!existing.iamConfiguration?.uniformBucketLevelAccess?.enabled) {
    changes.push('uniform bucket-level access');
    flags.push('--uniform-bucket-level-access');
  }
  const missing = missingLabels(existing.labels, ctx.infra.labels);
  if (missing.length) {
    changes.push(...missing.map((k) => `label ${k}`));
    flags.push(labels);
  }
  const lifecycleDiffers = !lifecycleMatches(existing.lifecycle, bucket);
  if (lifecycleDiffers) changes.push('lifecycle rules');
  if (changes.length === 0) {
    if (ours) await doneCreating(ctx, marker);
    return { resource, state: 'unchanged', changes };
  }

  ctx.log.warn(`${resource} differs from the config (${changes.join(', ')}): updating it`);
  const update = (extra: string[]) => ctx.gcloud.mutate(['storage', 'buckets', 'update', url(bucket.name), ...flags, ...extra], { json: false });
  if (lifecycleDiffers) await withTempFile('lifecycle.json', lifecycle, (file) => update([`--lifecycle-file=${file}`]));
  else await update([]);
  if (ours && !ctx.dryRun) await doneCreating(ctx, marker);
  return { resource, state: 'updated', changes };
}

export const bucketsCreate = defineTask({
  name: TASK.bucketsCreate,
  description: 'Create the Cloud Storage buckets (uniform access, in GCP_REGION, labelled, lifecycle rules); bring differing ones in line',
  deps: [TASK.apisEnable],
  args: { adopt: 'manage existing buckets that lack the tool\'s labels (they are labelled, then brought in line)' },
  inputs: { config: ({ infra, region }) => ({ buckets: infra.buckets, labels: infra.labels, region }) },
  check: async (ctx) => {
    const found = await Promise.all(ctx.infra.buckets.map((b) => readBucket(ctx, b.name)));
    return found.every((b, i) => b !== null && lifecycleMatches(b.lifecycle, ctx.infra.buckets[i]) && missingLabels(b.labels, ctx.infra.labels).length === 0);
  },
  run: async (ctx) => {
    recordReports(ctx, await forEachResource(ctx.infra.buckets, (b) => `bucket ${b.name}`, (b) => ensureBucket(ctx, b)));
    return {
      buckets: Object.fromEntries(ctx.infra.buckets.map((b) => [b.key, b.name])),
      env: Object.fromEntries(ctx.infra.buckets.map((b) => [b.envVar, b.name])),
    };
  },
});
