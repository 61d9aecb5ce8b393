// One resource at a time: `api:enable -- --name=run` and `resource:delete -- --type=bucket --name=…`,
// plus the pieces cleanup shares: how a resource is described to a person, how it is deleted, and which
// cached tasks stop being true once it is gone (so the next `setup` recreates exactly that).
import { defineTask } from '../../lib/index.js';
import { UsageError, UserError } from '../../lib/engine/errors.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { TaskArgs, TaskContext, TaskDef } from '../../lib/engine/types.js';
import { configuredNames, discover, typeSingular, typeTitles, type Resource, type ResourceType } from './discover.js';
import { formatBytes, plural } from '../shared/format.js';
import { Deadline, describeFailure } from '../shared/query.js';
import { answerOrStop, isGcloudError, serviceAccountMember, withoutMembers, withTempFile } from '../shared/common.js';
import { taskCommand, type RunTarget } from '../shared/hints.js';
import { TASK, type TaskName } from '../shared/task-names.js';
import { readProjectPolicy } from '../shared/cloud-reads.js';

/** The details a person needs to decide whether to delete it. */
export function describeResource(r: Resource): string {
  switch (r.type) {
    case 'bucket': {
      const d = (r as Resource<'bucket'>).details;
      return d.sizeBytes === null ? `${d.location}, size unknown (${d.sizeNote})` : `${d.location}, ${formatBytes(d.sizeBytes)} in ${plural(d.objects ?? 0, 'object')}`;
    }
    case 'sql': {
      const d = (r as Resource<'sql'>).details;
      const dbs = d.databases === null ? '' : `, databases: ${d.databases.join(', ') || 'none'}`;
      return `${r.state}, ${d.tier}, ${d.databaseVersion}, ${d.availabilityType}, ${d.diskGb} GB disk${dbs}`;
    }
    case 'service': {
      const d = (r as Resource<'service'>).details;
      return `${r.location}, ${d.url ?? 'no URL'}, revision ${d.revision ?? 'none'}`;
    }
    case 'secret': {
      const v = (r as Resource<'secret'>).details.versions;
      return v === null ? 'version count unknown' : plural(v, 'version');
    }
    case 'registry': {
      const d = (r as Resource<'registry'>).details;
      return `${r.location}, ${d.format}, ${d.images === null ? 'images unknown' : plural(d.images.length, 'image')}, ${formatBytes(d.sizeBytes)}`;
    }
    case 'sa':
      return `${r.state}${(r as Resource<'sa'>).details.displayName ? `, "${(r as Resource<'sa'>).details.displayName}"` : ''}`;
    case 'gke': {
      const d = (r as Resource<'gke'>).details;
      return `${r.location}, ${d.status}, ${plural(d.nodes, 'node')}`;
    }
  }
}

/** Deletes one resource (a bucket with its objects: `storage rm -r` empties it, then deletes it). */
export async function deleteResource(ctx: TaskContext, r: Resource): Promise<void> {
  const args: Record<ResourceType, string[]> = {
    service: ['run', 'services', 'delete', r.name, `--region=${r.location || ctx.region}`, '--platform=managed'],
    gke: ['container', 'clusters', 'delete', r.name, `--location=${r.location}`],
    sql: ['sql', 'instances', 'delete', r.name],
    bucket: ['storage', 'rm', '-r', `gs://${r.name}`],
    registry: ['artifacts', 'repositories', 'delete', r.name, `--location=${r.location}`],
    secret: ['secrets', 'delete', r.name],
    sa: ['iam', 'service-accounts', 'delete', r.name],
  };
  await ctx.gcloud.mutate(args[r.type], { json: false });
  if (r.type === 'sa') await dropAccountBindings(ctx, r.name);
}

/**
 * The project policy keeps a deleted account's roles as `deleted:serviceAccount:EMAIL?uid=…` members
 * forever (a new account of the same email does not inherit them): they are the deleted account's
 * leftovers, so they go with it, in one etag-guarded write (read again when someone else wrote first).
 */
async function dropAccountBindings(ctx: TaskContext, email: string): Promise<void> {
  const ofAccount = (m: string) => m === serviceAccountMember(email) || m.startsWith(`deleted:${serviceAccountMember(email)}?uid=`);
  for (let attempt = 1; ; attempt++) {
    const policy = (await readProjectPolicy(ctx)) ?? {};
    if (!(policy.bindings ?? []).some((b) => (b.members ?? []).some(ofAccount))) return;
    try {
      await withTempFile('policy.json', JSON.stringify(withoutMembers(policy, ofAccount)), (file) =>
        ctx.gcloud.mutate(['projects', 'set-iam-policy', ctx.project, file], { project: false }));
      return;
    } catch (error) {
      if (!isGcloudError(error, 'precondition') || attempt === 3 || ctx.signal.aborted) throw error;
    }
  }
}

/**
 * The cached tasks whose record claims something about this resource. Dropping them makes the next
 * `setup` / `deploy` recreate it, and nothing else.
 */
export function affectedTasks(infra: ResolvedInfra, r: Pick<Resource, 'type' | 'name'>): string[] {
  const deploys = infra.services.map((s) => TASK.deploy(s.key));
  switch (r.type) {
    case 'service': {
      const svc = infra.services.find((s) => s.name === r.name);
      return svc ? [TASK.deploy(svc.key)] : [];
    }
    case 'sql':
      return [TASK.sqlCreate, TASK.sqlPgvector, TASK.dbMigrate];
    case 'bucket':
      return [TASK.bucketsCreate];
    case 'registry':
      return [TASK.registryCreate, ...infra.services.map((s) => TASK.build(s.key)), ...deploys];
    case 'secret':
      // A new database password must be set on the instance again.
      return r.name === infra.sql.passwordSecret ? [TASK.secretsCreate, TASK.sqlCreate] : [TASK.secretsCreate];
    case 'sa':
      // Services run as it: they need the account and its roles back, then a redeploy.
      return [TASK.iamCreate, ...deploys];
    case 'gke':
      return [];
  }
}

const deletableTypes: Record<string, ResourceType> = {
  bucket: 'bucket', sql: 'sql', service: 'service', secret: 'secret', sa: 'sa', registry: 'registry',
};

/** Accepts a service's base name (`api-gateway`) and a service account's id (`digitwinlive-sa`). */
function normaliseName(ctx: TaskContext, type: ResourceType, name: string): string {
  if (type === 'service') return ctx.infra.services.find((s) => s.key === name)?.name ?? name;
  if (type === 'sa' && !name.includes('@')) return `${name}@${ctx.project}.iam.gserviceaccount.com`;
  if (type === 'bucket') return name.replace(/^gs:\/\//, '').replace(/\/$/, '');
  return name;
}

export type DeleteOutput = { type: string; name: string; deleted: boolean; invalidated: string[] };

/** The checked arguments of resource:delete (a usage error, before anything runs, when they are wrong). */
function deleteTarget(args: TaskArgs): { type: ResourceType; given: string } {
  const type = deletableTypes[String(args.type ?? '')];
  const given = args.name;
  const types = Object.keys(deletableTypes).join('|');
  const example = 'Example: pnpm task resource:delete -- --type=bucket --name=clone-uploads-development';
  if (args.type !== undefined && !type) throw new UsageError(`resource:delete: --type=${String(args.type)} is not one of ${types}.`, example);
  if (!type || typeof given !== 'string' || !given) throw new UsageError(`resource:delete needs --type=${types} and --name=NAME.`, example);
  return { type, given };
}

/** The API named by api:enable's --name, in full (`run` → `run.googleapis.com`). */
function apiToEnable(args: TaskArgs): string {
  const given = args.name;
  const example = 'Example: pnpm task api:enable -- --name=sqladmin';
  if (typeof given !== 'string') throw new UsageError('api:enable needs --name=API, e.g. --name=run or --name=run.googleapis.com.', example);
  if (!/^[a-z][-a-z0-9]*(\.[a-z][-a-z0-9]*)*$/.test(given)) throw new UsageError(`api:enable: "${given}" is not an API name (like run or run.googleapis.com).`, example);
  return given.includes('.') ? given : `${given}.googleapis.com`;
}

function deleteTask(): TaskDef<DeleteOutput> {
  return defineTask({
    name: TASK.resourceDelete,
    description: 'Delete one resource the tool manages: -- --type=bucket|sql|service|secret|sa|registry --name=NAME (asks first)',
    always: true,
    destructive: true,
    args: { type: 'bucket | sql | service | secret | sa | registry', name: 'the resource name (a service\'s base name and a service account id work too)' },
    preflight: (ctx) => void deleteTarget(ctx.args),
    run: async (ctx) => {
      const { type, given } = deleteTarget(ctx.args);
      const name = normaliseName(ctx, type, given);
      const found = (await discover(ctx, { types: [type], deadline: new Deadline(30_000, 60_000), sqlDatabases: true }))[type]!;
      if (found.state !== 'ok') throw new UserError(`Could not look up ${typeTitles[type]} in project ${ctx.project}: ${describeFailure(found)}. Nothing was deleted.`);
      const resource = (found.value as Resource[]).find((r) => r.name === name);
      if (!resource) {
        if (configuredNames(ctx.infra)[type].includes(name)) {
          // A record may still claim it: drop it, so the next setup makes it again.
          const invalidated = affectedTasks(ctx.infra, { type, name });
          await ctx.invalidate(invalidated);
          ctx.log.success(`${typeTitles[type]}: ${name} does not exist in project ${ctx.project}; nothing to delete.`);
          return { type, name, deleted: false, invalidated };
        }
        throw new UserError(`There is no ${type} named ${name} in project ${ctx.project}.`, { hint: `See what the tool manages with: ${taskCommand(ctx, TASK.list)}` });
      }
      if (resource.scope !== 'managed') throw notOurs(ctx, resource);
      const what = `${typeSingular[type]} ${name} (${describeResource(resource)})`;
      if (!(await answerOrStop(ctx.signal, ctx.prompt.confirm(`Delete ${what} in project ${ctx.project}? This cannot be undone.`)))) {
        ctx.log.warn('Not deleted: nothing changed.');
        return { type, name, deleted: false, invalidated: [] };
      }
      // Forget first, then delete: once the request is sent the resource may be gone, whatever happens to this run.
      const invalidated = ctx.dryRun ? [] : affectedTasks(ctx.infra, resource);
      await ctx.invalidate(invalidated);
      await deleteResource(ctx, resource);
      ctx.log.success(`Deleted ${what}.`);
      return { type, name, deleted: !ctx.dryRun, invalidated };
    },
  });
}

/** Why resource:delete leaves a resource alone: only what carries the tool's labels for this environment is deleted. */
function notOurs(ctx: TaskContext, r: Resource): UserError {
  const target: RunTarget = ctx;
  if (r.scope === 'other-environment')
    return new UserError(`${r.name} belongs to the ${r.labels.environment} environment; this ${ctx.env} run will not delete it.`, { hint: `Run with --env=${r.labels.environment}.` });
  if (r.scope === 'unlabelled') {
    const adopt = adoptingTask[r.type];
    return new UserError(`${r.name} is not managed (no labels): ${ctx.infra.managedBy} did not create it, although tasks.config.ts names it. Nothing was deleted.`, {
      hint: `${adopt ? `Adopt it first (${taskCommand(target, adopt, ['--adopt'])}), or delete` : 'Delete'} it by hand with gcloud or the console if you really mean to.`,
    });
  }
  return new UserError(`${r.name} is not managed by ${ctx.infra.managedBy} (no ${ctx.infra.managedBy} labels): it is left alone.`, { hint: 'Delete it with gcloud or the console if you really mean to.' });
}

/** The task that creates each type and, with --adopt, adopts an unlabelled one. */
const adoptingTask: Partial<Record<ResourceType, TaskName>> = {
  bucket: TASK.bucketsCreate, sql: TASK.sqlCreate, secret: TASK.secretsCreate, sa: TASK.iamCreate, registry: TASK.registryCreate,
};

function enableApiTask(): TaskDef<{ api: string }> {
  return defineTask({
    name: TASK.apiEnable,
    description: 'Enable one Google Cloud API: -- --name=run (or run.googleapis.com)',
    always: true,
    args: { name: 'the API, e.g. run or run.googleapis.com' },
    // apis:enable's record says "the required APIs are on": let the next setup check that again.
    invalidates: [TASK.apisEnable],
    preflight: (ctx) => void apiToEnable(ctx.args),
    run: async (ctx) => {
      const api = apiToEnable(ctx.args);
      if (!ctx.infra.apis.includes(api)) ctx.log.warn(`${api} is not one of the APIs tasks.config.ts requires; enabling it anyway.`);
      await ctx.gcloud.mutate(['services', 'enable', api], { json: false });
      ctx.log.success(`${api} is enabled in project ${ctx.project}.`);
      return { api };
    },
  });
}

export const resourceTasks = (): TaskDef[] => [enableApiTask(), deleteTask()];
