// Helpers shared by every task module: labels, the environment and ownership guards, IAM policy reading, secret
// generation, temporary files, and running one step per resource while collecting every failure.
import { randomBytes, randomInt } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { GcloudError, type GcloudErrorKind } from '../../lib/gcp/gcloud.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { EnvName, TaskContext } from '../../lib/engine/types.js';
import { taskCommand } from './hints.js';
import type { TaskName } from './task-names.js';

export type Labels = Record<string, string>;

// ---------------------------------------------------------------- labels

/** Labels as the value of gcloud's `--labels=` / `--update-labels=` flags: `app=x,environment=y,managed-by=z`. */
export function labelsFlag(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

/** Keys of `wanted` whose value in `actual` is missing or different (extra labels on the resource are left alone). */
export function missingLabels(actual: Labels | null | undefined, wanted: Labels): string[] {
  return Object.keys(wanted).filter((k) => actual?.[k] !== wanted[k]);
}

// Service accounts have no labels: the tool writes them into the description instead, in this exact form,
// so status and cleanup can read them back with labelsFromDescription().
const descriptionPrefix = 'labels:';

/** `labels: app=digitwinlive, environment=development, managed-by=gcp-tasks` (for resources without labels). */
export function labelsAsDescription(labels: Labels): string {
  return `${descriptionPrefix} ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ')}`;
}

/** Reads back labelsAsDescription(); {} for any other description. */
export function labelsFromDescription(description: string | null | undefined): Labels {
  const line = (description ?? '').split('\n').find((l) => l.startsWith(descriptionPrefix));
  if (!line) return {};
  const labels: Labels = {};
  for (const pair of line.slice(descriptionPrefix.length).split(',')) {
    const [k, v] = pair.trim().split('=');
    if (k && v !== undefined) labels[k] = v;
  }
  return labels;
}

/** Whether the resource carries this tool's `managed-by` label for this app. */
export function isManaged(labels: Labels | null | undefined, infra: Pick<ResolvedInfra, 'app' | 'managedBy'>): boolean {
  return labels?.['managed-by'] === infra.managedBy && labels?.app === infra.app;
}

/** Whether the tool owns the resource for this environment: its `managed-by` label and this environment's label. */
export function isOwned(labels: Labels | null | undefined, infra: Pick<ResolvedInfra, 'app' | 'managedBy' | 'env'>): boolean {
  return isManaged(labels, infra) && labels?.environment === infra.env;
}

// ---------------------------------------------------------------- environment guard

const otherEnv = (env: EnvName): EnvName => (env === 'development' ? 'production' : 'development');

/**
 * Refuses to touch a resource that belongs to the other environment (its `environment` label says so).
 * Environments never collide: a development run must not create or change a production resource, even
 * when both environments name the same project and a name override points at the other one's resource.
 * A resource without an `environment` label is this environment's to adopt.
 */
export function guardEnvironment(infra: Pick<ResolvedInfra, 'env'>, resource: string, labels: Labels | null | undefined): void {
  const owner = labels?.environment;
  if (!owner || owner === infra.env) return;
  throw new UserError(`${resource} belongs to the ${owner} environment (label environment=${owner}); this ${infra.env} run will not touch it.`, {
    hint: owner === otherEnv(infra.env)
      ? `Run with --env=${owner} to manage it, or give the ${infra.env} environment its own name for it (or its own project).`
      : `Remove or fix its environment label if it really belongs to ${infra.env}.`,
  });
}

// ---------------------------------------------------------------- ownership

/** What a task needs to decide whether it may change an existing resource. */
export type OwnershipContext = Pick<TaskContext, 'infra' | 'args' | 'name' | 'env' | 'commandFor' | 'log'>;

/**
 * Ownership is a label, never a name: a resource that exists without this tool's labels for this
 * environment was made by someone else (by hand, another team, another tool), even when the config or an
 * env override names it. It is never changed unless the user adopts it (`-- --adopt`, or `adopt: true`
 * for it in tasks.config.ts); the caller then labels it and manages it like its own.
 * Call it before any change; it throws a UserError naming the resource when the resource is not the tool's.
 * `adoptInConfig: false` for resource kinds tasks.config.ts has no `adopt` setting for (Cloud Run services);
 * `adoptingTask` when the task that adopts is not the one running (a rollback adopts through its deploy).
 */
export function guardOwnership(
  ctx: OwnershipContext,
  resource: string,
  labels: Labels | null | undefined,
  opts: { adopt?: boolean; rename?: string; adoptInConfig?: boolean; adoptingTask?: TaskName } = {},
): void {
  guardEnvironment(ctx.infra, resource, labels);
  if (isOwned(labels, ctx.infra)) return;
  if (opts.adopt || ctx.args.adopt === true) {
    ctx.log.warn(`adopting ${resource}: labelling it, then managing it like a resource ${ctx.infra.managedBy} created`);
    return;
  }
  throw new UserError(
    `${resource} exists but was not created by ${ctx.infra.managedBy} (no managed-by=${ctx.infra.managedBy} and environment=${ctx.env} labels). Nothing was changed.`,
    {
      hint: `If ${ctx.infra.managedBy} should manage it, adopt it (it is labelled, then brought in line with the config): ${taskCommand(ctx, opts.adoptingTask ?? (ctx.name as TaskName), ['--adopt'])}`
        + `${opts.adoptInConfig === false ? '.' : ', or set adopt: true for it in tasks.config.ts.'} Otherwise leave it alone${opts.rename ? ` and ${opts.rename}` : ''}.`,
    },
  );
}

// A bucket is created without labels (gcloud's `buckets create` takes none) and labelled by a second call.
// A marker file written before the create says "this run is creating it", so an interrupt between the two
// calls leaves a bucket the next run still recognises as its own, and labels.
const creatingDir = (ctx: Pick<TaskContext, 'paths' | 'project' | 'env'>) => join(ctx.paths.stateDir, 'creating', `${ctx.project}.${ctx.env}`);

/** Records that this tool is about to create `key` (before the create request). */
export async function markCreating(ctx: Pick<TaskContext, 'paths' | 'project' | 'env'>, key: string): Promise<void> {
  await mkdir(creatingDir(ctx), { recursive: true });
  await writeFile(join(creatingDir(ctx), key), `${new Date().toISOString()}\n`);
}

/** Whether an earlier run of this tool started creating `key` and did not finish labelling it. */
export async function wasCreating(ctx: Pick<TaskContext, 'paths' | 'project' | 'env'>, key: string): Promise<boolean> {
  return access(join(creatingDir(ctx), key)).then(() => true, () => false);
}

/** The resource is created and labelled: it carries its own proof of ownership now. */
export async function doneCreating(ctx: Pick<TaskContext, 'paths' | 'project' | 'env'>, key: string): Promise<void> {
  await rm(join(creatingDir(ctx), key), { force: true });
}

// ---------------------------------------------------------------- IAM policies

export interface IamBinding { role: string; members?: string[]; condition?: unknown }
export interface IamPolicy { bindings?: IamBinding[]; etag?: string; version?: number; [key: string]: unknown }

/** `serviceAccount:EMAIL`, the member form IAM policies use. */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/** Whether the policy grants `role` to `member` unconditionally (a conditional binding does not count). */
export function hasBinding(policy: IamPolicy | null | undefined, role: string, member: string): boolean {
  return (policy?.bindings ?? []).some((b) => b.role === role && !b.condition && (b.members ?? []).includes(member));
}

/**
 * The policy with `member` added to each of `roles` (to the role's unconditional binding, or a new one).
 * Everything else — other bindings, conditions, audit configs, the etag that guards the write — is kept.
 */
export function withRoles(policy: IamPolicy, roles: string[], member: string): IamPolicy {
  const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] }));
  for (const role of roles) {
    const binding = bindings.find((b) => b.role === role && !b.condition);
    if (!binding) bindings.push({ role, members: [member] });
    else if (!binding.members.includes(member)) binding.members.push(member);
  }
  return { ...policy, bindings };
}

/** The policy without the members `drop` matches (a binding left with no member goes too); everything else kept. */
export function withoutMembers(policy: IamPolicy, drop: (member: string) => boolean): IamPolicy {
  const bindings = (policy.bindings ?? [])
    .map((b) => ({ ...b, members: (b.members ?? []).filter((m) => !drop(m)) }))
    .filter((b) => b.members.length > 0);
  return { ...policy, bindings };
}

/** The roles of `roles` that the policy does not yet grant to `member`, in the given order. */
export function missingRoles(policy: IamPolicy | null | undefined, roles: string[], member: string): string[] {
  return roles.filter((role) => !hasBinding(policy, role, member));
}

// ---------------------------------------------------------------- secrets

export type SecretRecipe = 'random-base64-48' | 'random-password-32';

// Letters and digits only: safe in a connection URL, a shell, an env file and psql without quoting.
const passwordAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A strong random value from the OS CSPRNG: 48 random bytes as base64 (384 bits), or 32 alphanumerics (~190 bits). */
export function generateSecret(recipe: SecretRecipe): string {
  if (recipe === 'random-base64-48') return randomBytes(48).toString('base64');
  // randomInt is uniform (rejection sampling inside), so no modulo bias.
  return Array.from({ length: 32 }, () => passwordAlphabet[randomInt(passwordAlphabet.length)]).join('');
}

/** The env variable through which the user supplies a secret's first value: SECRET_VALUE_<ENVVAR>. */
export function suppliedSecretVar(envVar: string): string {
  return `SECRET_VALUE_${envVar}`;
}

// ---------------------------------------------------------------- files

/**
 * Runs `fn` with the path of a private temporary file holding `content` (mode 0600 in a fresh 0700 dir),
 * removed afterwards whatever happens. For gcloud flags that only take a file (--lifecycle-file).
 */
export async function withTempFile<T>(name: string, content: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gcp-tasks-'));
  try {
    const path = join(dir, name);
    await writeFile(path, content, { mode: 0o600 });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- errors and fan-out

/** Whether `e` is a GcloudError of one of these kinds. */
export function isGcloudError(e: unknown, ...kinds: GcloudErrorKind[]): e is GcloudError {
  return e instanceof GcloudError && (kinds.length === 0 || kinds.includes(e.kind));
}

/**
 * Runs `fn` for every item in parallel and waits for all of them, so that one failing resource does not
 * leave its siblings half-done. Throws one UserError naming every failed item; otherwise returns the results in order.
 */
export async function forEachResource<T, R>(items: T[], label: (item: T) => string, fn: (item: T) => Promise<R>): Promise<R[]> {
  const settled = await Promise.allSettled(items.map(fn));
  const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ item: items[i], error: s.reason as unknown }] : []));
  if (failures.length === 0) return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
  if (failures.length === 1 && failures[0].error instanceof Error && items.length === 1) throw failures[0].error;
  const lines = failures.map(({ item, error }) => `  ${label(item)}: ${error instanceof Error ? error.message : String(error)}`);
  const hints = [...new Set(failures.map(({ error }) => (error as { hint?: string }).hint).filter(Boolean))];
  throw new UserError(`${failures.length} of ${items.length} failed:\n${lines.join('\n')}`, {
    hint: hints.join('\n') || undefined,
    cause: failures[0].error,
  });
}

/**
 * Runs a create call; "already exists" is not an error here. It happens when an earlier attempt of the same
 * call (retried after a transient failure) or a parallel run made the resource — perhaps only partly: a gcloud
 * create can be several requests (`secrets create --data-file` also adds a version). Resolves to null when
 * this call created it, or to the resource as it now exists, for the caller to converge like any other.
 */
export async function createOrAdopt<T>(resource: string, create: () => Promise<unknown>, describe: () => Promise<T | null>): Promise<T | null> {
  try {
    await create();
    return null;
  } catch (error) {
    if (!isGcloudError(error, 'already-exists')) throw error;
  }
  const existing = await describe();
  if (!existing) throw new UserError(`${resource}: create says it exists, describe says it does not.`, { hint: 'Google Cloud is catching up; run the task again in a moment.' });
  return existing;
}

/** What a setup task did to one resource; the `setup` summary aggregates these. */
export type ResourceState = 'created' | 'updated' | 'unchanged';

export type ResourceReport = {
  /** e.g. `bucket clone-uploads-development` */
  resource: string;
  state: ResourceState;
  /** What was changed (for `updated`; empty otherwise). */
  changes: string[];
};

// What happened to each resource is reported to the run's journal, not returned as an output: outputs
// are hashed into the fingerprints of dependents, so they must describe the resulting resources only
// ("created" turning into "unchanged" must not make a deploy run again). ctx.vars is one object per run.
const journals = new WeakMap<object, Map<string, ResourceReport[]>>();

/** Records what the task did to its resources in this run (read by the `setup` summary). */
export function recordReports(ctx: Pick<TaskContext, 'vars' | 'name'>, reports: ResourceReport[]): void {
  let journal = journals.get(ctx.vars);
  if (!journal) journals.set(ctx.vars, (journal = new Map()));
  journal.set(ctx.name, reports);
}

/** Reports recorded in this run, by task name; a task served from the cache has none. */
export function recordedReports(ctx: Pick<TaskContext, 'vars'>): ReadonlyMap<string, ResourceReport[]> {
  return journals.get(ctx.vars) ?? new Map();
}

// ---------------------------------------------------------------- questions

/**
 * The answer to a question, or — when the run is interrupted while it waits (Ctrl-C at the question) — the
 * interruption at once, so no further question is asked and nothing unconfirmed is done.
 */
export function answerOrStop<T>(signal: AbortSignal, answer: Promise<T>): Promise<T> {
  const interrupted = () => (signal.reason instanceof Error ? signal.reason : new UserError('Interrupted'));
  if (signal.aborted) return Promise.reject(interrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    answer.then(
      (value) => (signal.removeEventListener('abort', onAbort), signal.aborted ? reject(interrupted()) : resolve(value)),
      (error) => (signal.removeEventListener('abort', onAbort), reject(signal.aborted ? interrupted() : error)),
    );
  });
}
