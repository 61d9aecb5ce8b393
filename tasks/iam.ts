// iam:create — the service account the services run as, and its project roles, granted one binding at
// a time only where missing (gcloud's add-iam-policy-binding re-reads the policy, so other bindings are
// never clobbered). A key file only on explicit request (`-- --key-file`).
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineTask } from '../lib/index.js';
import type { TaskContext } from '../lib/types.js';
import {
  guardEnvironment, isGcloudError, labelsAsDescription, labelsFromDescription, missingRoles, recordReports, serviceAccountMember,
  type IamPolicy, type ResourceReport,
} from './common.js';

interface ServiceAccount { email?: string; displayName?: string; description?: string }

async function ensureServiceAccount(ctx: TaskContext): Promise<ResourceReport> {
  const sa = ctx.infra.serviceAccount;
  const resource = `service account ${sa.email}`;
  const description = labelsAsDescription(ctx.infra.labels);
  const existing = await ctx.gcloud.read<ServiceAccount>(['iam', 'service-accounts', 'describe', sa.email]);
  if (!existing) {
    await ctx.gcloud.mutate(['iam', 'service-accounts', 'create', sa.name, `--display-name=${sa.displayName}`, `--description=${description}`]);
    ctx.log.success(`created ${resource}`);
    return { resource, state: 'created', changes: [] };
  }
  guardEnvironment(ctx.infra, resource, labelsFromDescription(existing.description));
  const changes = [
    ...(existing.displayName !== sa.displayName ? ['display name'] : []),
    ...(existing.description !== description ? ['description (labels)'] : []),
  ];
  if (changes.length === 0) return { resource, state: 'unchanged', changes };
  await ctx.gcloud.mutate(['iam', 'service-accounts', 'update', sa.email, `--display-name=${sa.displayName}`, `--description=${description}`]);
  ctx.log.success(`updated ${resource} (${changes.join(', ')})`);
  return { resource, state: 'updated', changes };
}

async function projectPolicy(ctx: TaskContext): Promise<IamPolicy | null> {
  return ctx.gcloud.read<IamPolicy>(['projects', 'get-iam-policy', ctx.project], { project: false });
}

// A service account created a moment ago is not yet known to IAM everywhere on Google: a binding for it can
// fail with "does not exist" for a few seconds. Bounded retries, only for an account created in this run.
const PROPAGATION_WAITS_MS = [2000, 4000, 8000];

async function grantRole(ctx: TaskContext, role: string, justCreated: boolean): Promise<void> {
  const args = ['projects', 'add-iam-policy-binding', ctx.project, `--member=${serviceAccountMember(ctx.infra.serviceAccount.email)}`, `--role=${role}`, '--condition=None'];
  for (let attempt = 0; ; attempt++) {
    try {
      await ctx.gcloud.mutate(args, { project: false });
      return;
    } catch (error) {
      const wait = PROPAGATION_WAITS_MS[attempt];
      if (!justCreated || wait === undefined || !isGcloudError(error, 'invalid', 'not-found') || ctx.signal.aborted) throw error;
      ctx.log.debug(`${role}: ${error.message} — the new account may not have propagated yet; retrying in ${wait / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** The project roles of the service account: read the policy once, add only the missing bindings, one after another. */
async function ensureRoles(ctx: TaskContext, justCreated: boolean): Promise<ResourceReport> {
  const { email, roles } = ctx.infra.serviceAccount;
  const resource = `project roles of ${email}`;
  const missing = missingRoles(await projectPolicy(ctx), roles, serviceAccountMember(email));
  // Sequential: each binding is a read-modify-write of the same project policy.
  for (const role of missing) {
    await grantRole(ctx, role, justCreated);
    ctx.log.success(`granted ${role}`);
  }
  if (missing.length === 0) return { resource, state: 'unchanged', changes: [] };
  return { resource, state: missing.length === roles.length ? 'created' : 'updated', changes: missing };
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
  name: 'iam:create',
  description: 'Create the service account and grant its project roles (only missing bindings, never clobbering others)',
  deps: ['apis:enable'],
  args: { 'key-file': 'also write a JSON key for the service account to keys/ (mode 0600, git-ignored; discouraged)' },
  inputs: { config: ({ infra, args }) => ({ serviceAccount: infra.serviceAccount, labels: infra.labels, keyFile: args['key-file'] === true }) },
  check: async (ctx) => {
    const { email, roles } = ctx.infra.serviceAccount;
    const account = await ctx.gcloud.read<ServiceAccount>(['iam', 'service-accounts', 'describe', email]);
    return account !== null && missingRoles(await projectPolicy(ctx), roles, serviceAccountMember(email)).length === 0;
  },
  run: async (ctx) => {
    const account = await ensureServiceAccount(ctx);
    const roles = await ensureRoles(ctx, account.state === 'created');
    const keyFile = ctx.args['key-file'] === true ? await ensureKeyFile(ctx) : null;
    recordReports(ctx, [account, roles]);
    return { serviceAccount: ctx.infra.serviceAccount.email, roles: ctx.infra.serviceAccount.roles, keyFile };
  },
});
