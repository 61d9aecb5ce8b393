// secrets:create — the Secret Manager secrets, labelled, each with a first version (the value the user
// supplies in SECRET_VALUE_<ENVVAR>, or a strong random one generated here), passed on stdin only and
// never printed. Existing versions are never overwritten; a secret without the tool's labels is left alone
// unless adopted. The service account may read each.
import { defineTask } from '../../lib/index.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { TASK } from '../shared/task-names.js';
import { listSecretVersions, readSecret, readSecretPolicy } from '../shared/cloud-reads.js';
import {
  createOrAdopt, forEachResource, generateSecret, guardOwnership, hasBinding, labelsFlag, missingLabels, recordReports, serviceAccountMember, suppliedSecretVar,
  type ResourceReport,
} from '../shared/common.js';

type Secret = ResolvedInfra['secrets'][number];
type FirstVersion = 'generated' | 'supplied';

const ACCESSOR = 'roles/secretmanager.secretAccessor';

/** The first value of a secret: the user's SECRET_VALUE_<ENVVAR>, or a generated one. */
function firstValue(ctx: TaskContext, secret: Secret): { value: string; source: FirstVersion } {
  const supplied = ctx.vars[suppliedSecretVar(secret.envVar)];
  return supplied ? { value: supplied, source: 'supplied' } : { value: generateSecret(secret.generate), source: 'generated' };
}

async function grantAccessor(ctx: TaskContext, secret: Secret): Promise<void> {
  await ctx.gcloud.mutate(['secrets', 'add-iam-policy-binding', secret.name,
    `--member=${serviceAccountMember(ctx.infra.serviceAccount.email)}`, `--role=${ACCESSOR}`, '--condition=None']);
}

async function accessorGranted(ctx: TaskContext, secret: Secret): Promise<boolean> {
  const policy = await readSecretPolicy(ctx, secret.name);
  return hasBinding(policy, ACCESSOR, serviceAccountMember(ctx.infra.serviceAccount.email));
}

async function hasEnabledVersion(ctx: TaskContext, secret: Secret): Promise<boolean> {
  const versions = (await listSecretVersions(ctx, secret.name)) ?? [];
  return versions.some((v) => v.state === 'ENABLED');
}

async function ensureSecret(ctx: TaskContext, secret: Secret): Promise<ResourceReport> {
  const resource = `secret ${secret.name}`;
  const describe = () => readSecret(ctx, secret.name);
  let existing = await describe();
  if (!existing) {
    const { value, source } = firstValue(ctx, secret);
    // One call creates the secret and its first version; the value travels on stdin.
    existing = await createOrAdopt(resource, () => ctx.gcloud.mutate(
      ['secrets', 'create', secret.name, '--replication-policy=automatic', `--labels=${labelsFlag(ctx.infra.labels)}`, '--data-file=-'],
      { stdin: value, secret: true },
    ), describe);
    if (!existing) {
      await grantAccessor(ctx, secret);
      ctx.log.success(`created ${resource} with a ${source} first version`);
      return { resource, state: 'created', changes: [`${source} first version`] };
    }
  }

  guardOwnership(ctx, resource, existing.labels, { adopt: secret.adopt, rename: 'rename the secret in tasks.config.ts' });
  const changes: string[] = [];
  const missing = missingLabels(existing.labels, ctx.infra.labels);
  if (missing.length) {
    await ctx.gcloud.mutate(['secrets', 'update', secret.name, `--update-labels=${labelsFlag(ctx.infra.labels)}`]);
    changes.push(...missing.map((k) => `label ${k}`));
  }
  if (!(await hasEnabledVersion(ctx, secret))) {
    const { value, source } = firstValue(ctx, secret);
    await ctx.gcloud.mutate(['secrets', 'versions', 'add', secret.name, '--data-file=-'], { stdin: value, secret: true });
    changes.push(`${source} first version`);
  }
  if (!(await accessorGranted(ctx, secret))) {
    await grantAccessor(ctx, secret);
    changes.push(`accessor role for ${ctx.infra.serviceAccount.name}`);
  }
  if (changes.length) ctx.log.success(`updated ${resource} (${changes.join(', ')})`);
  return { resource, state: changes.length ? 'updated' : 'unchanged', changes };
}

export const secretsCreate = defineTask({
  name: TASK.secretsCreate,
  description: 'Create the Secret Manager secrets with a first version (supplied or generated, on stdin) and let the service account read them',
  deps: [TASK.iamCreate],
  args: { adopt: 'manage existing secrets that lack the tool\'s labels (they are labelled; existing versions are kept)' },
  // SECRET_VALUE_* is not an input: a value only matters for a first version, and versions are never overwritten.
  inputs: { config: ({ infra }) => ({ secrets: infra.secrets, labels: infra.labels, serviceAccount: infra.serviceAccount.email }) },
  check: async (ctx) => {
    const ok = await Promise.all(ctx.infra.secrets.map(async (s) => (await Promise.all([hasEnabledVersion(ctx, s), accessorGranted(ctx, s)])).every(Boolean)));
    return ok.every(Boolean);
  },
  run: async (ctx) => {
    recordReports(ctx, await forEachResource(ctx.infra.secrets, (s) => `secret ${s.name}`, (s) => ensureSecret(ctx, s)));
    return { secrets: ctx.infra.secrets.map((s) => ({ name: s.name, envVar: s.envVar })), serviceAccount: ctx.infra.serviceAccount.email };
  },
});
