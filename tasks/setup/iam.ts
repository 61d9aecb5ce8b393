// iam:create — the service account the services run as, and its project roles (only the missing
// bindings, in one etag-guarded write that never clobbers other bindings). A key file only on explicit
// request (`-- --key-file`).
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineTask } from '../../lib/index.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { TASK } from '../shared/task-names.js';
import { readProjectPolicy, readServiceAccount } from '../shared/cloud-reads.js';
import {
  createOrAdopt, guardOwnership, isGcloudError, labelsAsDescription, labelsFromDescription, missingRoles, recordReports, serviceAccountMember, withRoles,
  withTempFile, type ResourceReport,
} from '../shared/common.js';


async function ensureServiceAccount(ctx: TaskContext): Promise<ResourceReport> {
  const sa = ctx.infra.serviceAccount;
  const resource = `service account ${sa.email}`;
  const description = labelsAsDescription(ctx.infra.labels);
  const describe = () => readServiceAccount(ctx, sa.email);
  let existing = await describe();
  if (!existing) {
    existing = await createOrAdopt(resource, () => ctx.gcloud.mutate(['iam', 'service-accounts', 'create', sa.name, `--display-name=${sa.displayName}`, `--description=${description}`]), describe);
    if (!existing) {
      ctx.log.success(`created ${resource}`);
      return { resource, state: 'created', changes: [] };
    }
  }
  // Service accounts have no labels: the tool's marker is the labels line of the description.
  guardOwnership(ctx, resource, labelsFromDescription(existing.description), { adopt: sa.adopt, rename: 'rename the service account in tasks.config.ts' });
  const changes = [
    ...(existing.displayName !== sa.displayName ? ['display name'] : []),
    ...(existing.description !== description ? ['description (labels)'] : []),
  ];
  if (changes.length === 0) return { resource, state: 'unchanged', changes };
  await ctx.gcloud.mutate(['iam', 'service-accounts', 'update', sa.email, `--display-name=${sa.displayName}`, `--description=${description}`]);
  ctx.log.success(`updated ${resource} (${changes.join(', ')})`);
  return { resource, state: 'updated', changes };
}

// Retries of the policy write: an etag conflict (somebody changed the policy since it was read) is
// answered by reading it again; a service account created a moment ago may not be known to IAM yet
// ("does not exist" for a few seconds on Google).
const POLICY_WAITS_MS = [1000, 3000, 8000];

/**
 * The project roles of the service account, in one read-modify-write of the project policy: the missing
 * bindings are added to the policy just read and written back with its etag, so a concurrent change is
 * detected (409) instead of overwritten, and every other binding is kept as it is.
 */
async function ensureRoles(ctx: TaskContext, justCreated: boolean): Promise<ResourceReport> {
  const { email, roles } = ctx.infra.serviceAccount;
  const member = serviceAccountMember(email);
  const resource = `project roles of ${email}`;
  for (let attempt = 0; ; attempt++) {
    const policy = (await readProjectPolicy(ctx)) ?? {};
    const missing = missingRoles(policy, roles, member);
    if (missing.length === 0) return { resource, state: 'unchanged', changes: [] };
    try {
      await withTempFile('policy.json', JSON.stringify(withRoles(policy, missing, member)), (file) =>
        ctx.gcloud.mutate(['projects', 'set-iam-policy', ctx.project, file], { project: false }));
      ctx.log.success(`granted ${missing.join(', ')} to ${email}`);
      return { resource, state: missing.length === roles.length ? 'created' : 'updated', changes: missing };
    } catch (error) {
      const wait = POLICY_WAITS_MS[attempt];
      const retryable = isGcloudError(error, 'precondition') || (justCreated && isGcloudError(error, 'invalid', 'not-found'));
      if (!retryable || wait === undefined || ctx.signal.aborted) throw error;
      ctx.log.debug(`project policy write: ${(error as Error).message} — reading it again in ${wait / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Writes a JSON key for the service account, only when asked for. Keys are long-lived credentials: the
 * file goes to a git-ignored `keys/` folder next to the env files, mode 0600, and an existing one is kept.
 */
async function ensureKeyFile(ctx: TaskContext): Promise<string> {
  const dir = path.join(ctx.paths.envDir, 'keys');
  const file = path.join(dir, `${ctx.infra.serviceAccount.name}.json`);
  if (await stat(file).then(() => true, () => false)) {
    ctx.log.info(`key file ${file} exists; no new key created`);
    return file;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, '.gitignore'), '# Service account keys are credentials: never commit them.\n*\n');
  await ctx.gcloud.mutate(['iam', 'service-accounts', 'keys', 'create', file, `--iam-account=${ctx.infra.serviceAccount.email}`], { json: false });
  if (!ctx.dryRun) await chmod(file, 0o600);
  ctx.log.warn(`wrote a key for ${ctx.infra.serviceAccount.email} to ${file} (mode 0600). Prefer impersonation or workload identity; delete the key when done.`);
  return file;
}

export const iamCreate = defineTask({
  name: TASK.iamCreate,
  description: 'Create the service account and grant its project roles (only missing bindings, never clobbering others)',
  deps: [TASK.apisEnable],
  args: {
    adopt: 'manage an existing service account that lacks the tool\'s description marker (its description is rewritten)',
    'key-file': 'also write a JSON key for the service account to keys/ (mode 0600, git-ignored; discouraged)',
  },
  inputs: { config: ({ infra }) => ({ serviceAccount: infra.serviceAccount, labels: infra.labels }) },
  check: async (ctx) => {
    const { email, roles } = ctx.infra.serviceAccount;
    const [account, policy] = await Promise.all([
      readServiceAccount(ctx, email),
      readProjectPolicy(ctx),
    ]);
    return account !== null && missingRoles(policy, roles, serviceAccountMember(email)).length === 0;
  },
  run: async (ctx) => {
    const account = await ensureServiceAccount(ctx);
    const roles = await ensureRoles(ctx, account.state === 'created');
    const keyFile = ctx.args['key-file'] === true ? await ensureKeyFile(ctx) : null;
    recordReports(ctx, [account, roles]);
    return { serviceAccount: ctx.infra.serviceAccount.email, roles: ctx.infra.serviceAccount.roles, keyFile };
  },
});
