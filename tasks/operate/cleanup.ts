// `cleanup`: discover everything, delete what this tool manages for the environment in the mode the user
// picks, keep going past errors, and report. Scope: resources carrying the tool's labels for this
// environment, and only those. Everything else in the project (a Terraform state bucket, Cloud Build's
// bucket, another team's service, the other environment's resources, and a resource the config names but
// that lacks the labels) is listed as left alone and never deleted, whatever the mode.
//
// Forget first, then delete: the cache records of what a deletion touches are dropped before its request
// is sent, so an interrupted cleanup never leaves a record claiming a resource that may be gone. Its own
// progress is written as it goes (cleanup-progress.ts), so the next cleanup names what was cut short.
// Ctrl-C at a question ends the questions and the run at once (exit 130); a cancelled confirmation
// (DELETE ALL mistyped, "nothing: quit") ends with exit 1.
//
// Cloud Run ("all services of the region"): when Cloud Run is chosen, every service of the
// region that this tool manages for the environment is deleted, including labelled ones the config no
// longer names; services of the region that are not the tool's are listed as left alone. Deleting another
// team's service is exactly what the old script did wrong, so the scope rule wins over "all".
//
// Dry run: the engine's `-n` plans tasks without running them, so `cleanup -- --dry-run` is the way to see
// what would be deleted; it needs neither a terminal nor --yes (`destructive` is a function of the args).
import pLimit from 'p-limit';
import { defineTask } from '../../lib/index.js';
import { UsageError, UserError } from '../../lib/engine/errors.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import type { InfraConfig } from '../../lib/gcp/infra.js';
import { discover, resourceTypes, typeSingular, typeTitles, type Discovery, type Resource, type ResourceType } from './discover.js';
import { plural } from '../shared/format.js';
import { Deadline, describeFailure, probe, type Probe } from '../shared/query.js';
import { affectedTasks, deleteResource, describeResource } from './resource.js';
import { answerOrStop } from '../shared/common.js';
import { taskCommand, type RunTarget } from '../shared/hints.js';
import { cleanupProgress, type CleanupProgress } from './cleanup-progress.js';
import { TASK } from '../shared/task-names.js';
import { listEnabledServices } from '../shared/cloud-reads.js';
import type { EnabledService } from '../../lib/gcp/resources.js';

type Mode = 'all' | 'selective' | 'menu';

/** Deletion waves: services (and clusters) first, then what they use; APIs last of all. */
const waves: ResourceType[][] = [['service', 'gke'], ['sql', 'bucket', 'registry', 'secret', 'sa']];
/** Independent deletions run at once, up to this many. */
const PARALLEL_DELETES = 4;
/** Confirmed one by one with their details. */
const confirmEach: ResourceType[] = ['sql', 'bucket'];

const typeAliases: Record<string, ResourceType> = {
  service: 'service', services: 'service', run: 'service',
  gke: 'gke', cluster: 'gke', clusters: 'gke',
  sql: 'sql',
  bucket: 'bucket', buckets: 'bucket', storage: 'bucket',
  registry: 'registry', artifacts: 'registry',
  secret: 'secret', secrets: 'secret',
  sa: 'sa', 'service-account': 'sa', 'service-accounts': 'sa',
};

export type CleanupEntry = { type: string; name: string; reason: string };
export type CleanupOutput = {
  project: string;
  env: string;
  dryRun: boolean;
  deleted: CleanupEntry[];
  /** Deletions under way when the run was interrupted: the request may have reached Google. */
  interrupted: CleanupEntry[];
  failed: CleanupEntry[];
  skipped: CleanupEntry[];
  leftAlone: CleanupEntry[];
  notDiscovered: CleanupEntry[];
  apisDisabled: string[];
  invalidated: string[];
};

export function cleanupTasks(_infra: InfraConfig): TaskDef[] {
  return [
    defineTask<CleanupOutput>({
      name: TASK.cleanup,
      description: 'Delete the resources this tool manages for the environment (interactive menu; --all, --selective or --menu), leaving everything else alone',
      always: true,
      interactive: true,
      destructive: (args) => !args['dry-run'],
      args: {
        all: 'delete everything listed (after typing DELETE ALL; with --yes and no terminal, without typing)',
        selective: 'ask y/N per resource type',
        menu: 'pick resource types from a numbered menu',
        types: 'with --menu: the types to delete, by name (service,gke,sql,bucket,registry,secret,sa) or menu number',
        'disable-apis': 'also disable the APIs tasks.config.ts enabled (asked separately)',
        'dry-run': 'only discover and show what would be deleted',
        timeout: 'seconds one discovery query may take (default 30)',
      },
      run: (ctx) => cleanup(ctx),
    }),
  ];
}

async function cleanup(ctx: TaskContext): Promise<CleanupOutput> {
  const mode = parseMode(ctx);
  const planOnly = ctx.dryRun || ctx.args['dry-run'] === true;
  const disableApis = ctx.args['disable-apis'] === true;
  const target: RunTarget = ctx;
  if (!planOnly && !ctx.prompt.isTTY) {
    if (!mode || !ctx.prompt.yes)
      throw new UsageError(
        'Without a terminal, cleanup needs a mode and --yes (nothing was deleted).',
        `${taskCommand(target, TASK.cleanup, ['--all'])} --yes (or --selective, or --menu --types=bucket,secret); ${taskCommand(target, TASK.cleanup, ['--dry-run'])} shows what would be deleted.`,
      );
    if (mode === 'menu' && ctx.args.types === undefined) throw new UsageError('Without a terminal, --menu needs --types=… to say what to delete (nothing was deleted).', `Example: ${taskCommand(target, TASK.cleanup, ['--menu', '--types=service,bucket'])} --yes`);
  }

  const seconds = ctx.args.timeout === undefined ? 30 : Number(ctx.args.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${String(ctx.args.timeout)}".`);
  const progress = cleanupProgress(ctx);
  const cutShort = await progress.cutShort();
  if (cutShort.length)
    ctx.log.warn(`An earlier cleanup stopped while deleting ${cutShort.map((s) => `${s.type} ${s.name}`).join(', ')}: the request may have reached Google. Discovery below shows what is left.`);
  const deadline = new Deadline(seconds * 1000, seconds * 2000);
  ctx.log.info(`Discovering resources in project ${ctx.project} (${ctx.region}, environment ${ctx.env})…`);
  const [found, enabledApis] = await Promise.all([
    discover(ctx, { deadline, sqlDatabases: true }),
    disableApis ? probe(deadline, (timeoutMs) => listEnabledServices(ctx, { timeoutMs })) : null,
  ]);
  const out: CleanupOutput = { project: ctx.project, env: ctx.env, dryRun: planOnly, deleted: [], interrupted: [], failed: [], skipped: [], leftAlone: [], notDiscovered: [], apisDisabled: [], invalidated: [] };
  const candidates = classify(ctx, found, out);
  const apis = apisToDisable(ctx, enabledApis, out);
  ctx.log.output(renderDiscovery(ctx, found, candidates, apis));

  const total = Object.values(candidates).reduce((n, list) => n + list.length, 0);
  if (total === 0 && apis.length === 0) {
    ctx.log.success(`Nothing to clean up: no resources managed by ${ctx.infra.managedBy} for ${ctx.env} in project ${ctx.project}.`);
    return finish(ctx, out, progress);
  }
  const offered = resourceTypes.filter((t) => candidates[t].length > 0);

  if (planOnly) {
    const types = mode === 'menu' && ctx.args.types !== undefined ? parseTypes(String(ctx.args.types), offered) : offered;
    const order = waves.flatMap((w) => w.filter((t) => types.includes(t))).flatMap((t) => candidates[t].map((r) => `  ${typeSingular[t]} ${r.name}`));
    ctx.log.output(['Dry run: nothing is deleted. Would delete, in this order:', ...order, ...(apis.length ? [`  then disable ${apis.join(', ')}`] : [])].join('\n'));
    return finish(ctx, out, progress);
  }

  // Whatever ends the run early (Ctrl-C at a question or during the deletions, a cancelled confirmation),
  // the summary still says exactly what was deleted, and everything not decided is listed as skipped.
  const everything = offered.flatMap((t) => candidates[t]);
  const stopped = (error: unknown, reason: string): never => {
    const settled = new Set([...out.deleted, ...out.interrupted, ...out.failed, ...out.skipped].map((e) => `${e.type} ${e.name}`));
    for (const r of everything) if (!settled.has(`${r.type} ${r.name}`)) out.skipped.push(entry(r, reason));
    ctx.log.output(renderSummary(out, target));
    throw error;
  };
  try {
    const chosen = await chooseTypes(ctx, mode, offered, candidates, total);
    for (const t of offered.filter((t) => !chosen.includes(t))) for (const r of candidates[t]) out.skipped.push(entry(r, 'type not chosen'));

    // Cloud SQL instances and buckets: one question each, details shown, project named.
    const selected: Resource[] = [];
    for (const t of chosen) {
      for (const r of candidates[t]) {
        if (confirmEach.includes(t) && !(await answerOrStop(ctx.signal, ctx.prompt.confirm(`Delete ${typeSingular[t]} ${r.name} (${describeResource(r)}) from project ${ctx.project}?`)))) {
          out.skipped.push(entry(r, 'you answered no'));
          continue;
        }
        selected.push(r);
      }
    }
    const disable = apis.length > 0 && (await answerOrStop(ctx.signal, ctx.prompt.confirm(`Also disable ${plural(apis.length, 'API')} in project ${ctx.project} (${apis.join(', ')})? APIs that depend on them are disabled too; other tools in the project may need them.`)));
    if (apis.length && !disable) out.skipped.push({ type: 'api', name: apis.join(','), reason: 'you answered no' });

    await deleteInWaves(ctx, selected, out, progress);
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new UserError('Interrupted');
    if (disable) await disableTheApis(ctx, apis, out);
  } catch (error) {
    if (error instanceof Cancelled) return stopped(new UserError(error.message, { hint: 'Nothing was deleted. Run cleanup again to choose otherwise.' }), 'cancelled');
    if (ctx.signal.aborted) return stopped(new UserError(`cleanup interrupted: ${plural(out.deleted.length, 'resource')} deleted (see the summary above).`), 'interrupted before it was tried');
    throw error;
  }
  return finish(ctx, out, progress);
}

/** The user cancelled at a confirmation: nothing is deleted and the run fails (exit 1, no ✔). */
class Cancelled extends Error {}

/** Refuses contradicting modes; --types alone means --menu. */
function parseMode(ctx: TaskContext): Mode | null {
  const modes = (['all', 'selective', 'menu'] as const).filter((m) => ctx.args[m] === true);
  if (modes.length > 1) throw new UsageError(`Pick one mode, not ${modes.map((m) => `--${m}`).join(' and ')}.`);
  if (ctx.args.types !== undefined && modes[0] && modes[0] !== 'menu') throw new UsageError('--types goes with --menu.');
  return modes[0] ?? (ctx.args.types !== undefined ? 'menu' : null);
}

const entry = (r: Pick<Resource, 'type' | 'name'>, reason: string): CleanupEntry => ({ type: r.type, name: r.name, reason });

/** This environment's resources per type; the rest recorded as left alone, failed queries as not discovered. */
function classify(ctx: TaskContext, found: Partial<Discovery>, out: CleanupOutput): Record<ResourceType, Resource[]> {
  const candidates = Object.fromEntries(resourceTypes.map((t) => [t, [] as Resource[]])) as Record<ResourceType, Resource[]>;
  for (const type of resourceTypes) {
    const p = found[type]!;
    if (p.state !== 'ok') {
      out.notDiscovered.push({ type, name: '*', reason: describeFailure(p) });
      continue;
    }
    for (const r of p.value as Resource[]) {
      if (r.scope === 'managed') candidates[type].push(r);
      else out.leftAlone.push(entry(r, leftAloneReason(ctx, r)));
    }
  }
  return candidates;
}

const NOT_LABELLED = 'not managed (no labels): adopt or delete by hand';

function leftAloneReason(ctx: TaskContext, r: Resource): string {
  if (r.scope === 'unlabelled') return NOT_LABELLED;
  return r.scope === 'foreign' ? `not managed by ${ctx.infra.managedBy}` : `belongs to the ${r.labels.environment} environment`;
}

function apisToDisable(ctx: TaskContext, enabled: Probe<EnabledService[] | null> | null, out: CleanupOutput): string[] {
  if (enabled === null) return [];
  if (enabled.state === 'timed-out' || enabled.state === 'error') {
    out.notDiscovered.push({ type: 'api', name: '*', reason: describeFailure(enabled) });
    return [];
  }
  const on = new Set((enabled.state === 'ok' ? enabled.value ?? [] : []).map((s) => s.config?.name));
  return ctx.infra.apis.filter((a) => on.has(a));
}

function renderDiscovery(ctx: TaskContext, found: Partial<Discovery>, candidates: Record<ResourceType, Resource[]>, apis: string[]): string {
  const lines = [`Resources in project ${ctx.project} (region ${ctx.region}, environment ${ctx.env}):`];
  for (const type of resourceTypes) {
    const p = found[type]!;
    lines.push('', typeTitles[type]);
    if (p.state !== 'ok') {
      lines.push(`  not discovered: ${describeFailure(p)} (none of them will be deleted)`);
      continue;
    }
    const mine = candidates[type];
    const others = (p.value as Resource[]).filter((r) => r.scope !== 'managed');
    if (!mine.length) lines.push(`  none managed by ${ctx.infra.managedBy}`);
    const width = Math.max(0, ...mine.map((r) => r.name.length));
    for (const r of mine) lines.push(`  ${r.name.padEnd(width)}  ${describeResource(r)}`);
    for (const r of others) lines.push(`  left alone: ${r.name} (${leftAloneReason(ctx, r)})`);
    if (type === 'service' && mine.length)
      lines.push(`  (choosing Cloud Run deletes every service of ${ctx.region} that ${ctx.infra.managedBy} manages for ${ctx.env}; other services are never touched)`);
  }
  if (apis.length) lines.push('', 'APIs (--disable-apis)', `  ${apis.join(', ')}`);
  return lines.join('\n');
}

/** The resource types to delete; throws Cancelled when the user cancels, the interruption on Ctrl-C. */
async function chooseTypes(ctx: TaskContext, mode: Mode | null, offered: ResourceType[], candidates: Record<ResourceType, Resource[]>, total: number): Promise<ResourceType[]> {
  const ask = (question: string) => answerOrStop(ctx.signal, ctx.prompt.input(question));
  const picked = mode ?? (await askMode(ctx));
  if (picked === 'all') {
    if (ctx.prompt.yes) return offered;
    const typed = await ask(`Type DELETE ALL to delete the ${plural(total, 'resource')} listed above from project ${ctx.project} (anything else cancels):`);
    if (typed !== 'DELETE ALL') throw new Cancelled(`cleanup cancelled: you typed "${typed}", not DELETE ALL.`);
    return offered;
  }
  if (picked === 'selective') {
    const chosen: ResourceType[] = [];
    for (const t of offered) {
      const names = candidates[t].map((r) => r.name).join(', ');
      if (await answerOrStop(ctx.signal, ctx.prompt.confirm(`Delete ${plural(candidates[t].length, typeSingular[t], typeTitles[t])} (${names}) from project ${ctx.project}?`))) chosen.push(t);
    }
    return chosen;
  }
  // menu
  if (ctx.args.types !== undefined) return parseTypes(String(ctx.args.types), offered);
  const menu = offered.map((t, i) => `  ${i + 1}) ${typeTitles[t]} (${candidates[t].length}: ${candidates[t].map((r) => r.name).join(', ')})`);
  ctx.log.output(['Resource types:', ...menu].join('\n'));
  for (;;) {
    const answer = await ask(`Numbers of the types to delete from project ${ctx.project}, comma-separated (e.g. 1,3; empty for none):`);
    try {
      return parseTypes(answer, offered);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      ctx.log.warn(`${error.message.replace(' (nothing was deleted)', '')} Try again.`);
    }
  }
}

/** The mode picked from the menu; an answer that is not a choice asks again. */
async function askMode(ctx: TaskContext): Promise<Mode> {
  ctx.log.output(
    [
      `How do you want to clean up project ${ctx.project}?`,
      '  1) everything listed above (you will type DELETE ALL)',
      '  2) type by type (a y/N question per resource type)',
      '  3) pick resource types from a numbered list',
      '  4) nothing: quit',
    ].join('\n'),
  );
  const modes: Record<string, Mode> = { '1': 'all', '2': 'selective', '3': 'menu' };
  for (;;) {
    const answer = (await answerOrStop(ctx.signal, ctx.prompt.input('Choice [1-4]:'))).trim();
    if (answer === '4') throw new Cancelled('cleanup cancelled: you chose "nothing: quit".');
    if (modes[answer]) return modes[answer];
    ctx.log.warn(`"${answer}" is not one of 1, 2, 3 or 4. Try again.`);
  }
}

/** `1,3` (menu numbers) or `sql,bucket` (names); anything unknown is a usage error, so nothing is guessed. */
export function parseTypes(text: string, offered: ResourceType[]): ResourceType[] {
  const chosen = new Set<ResourceType>();
  for (const raw of text.split(/[\s,]+/).filter(Boolean)) {
    const n = Number(raw);
    const type = Number.isInteger(n) ? offered[n - 1] : typeAliases[raw.toLowerCase()];
    if (!type) throw new UsageError(`"${raw}" is not one of the choices (nothing was deleted).`, `Use menu numbers 1-${offered.length} or type names: ${Object.keys(typeTitles).join(', ')}.`);
    if (offered.includes(type)) chosen.add(type);
  }
  return offered.filter((t) => chosen.has(t));
}

/**
 * Each wave after the previous one; inside a wave, independent deletions in parallel. A failure never stops
 * the others; an interrupt stops everything not yet started. Each deletion first drops the records of what
 * it touches and notes itself in the progress file, then sends its request.
 */
async function deleteInWaves(ctx: TaskContext, selected: Resource[], out: CleanupOutput, progress: CleanupProgress): Promise<void> {
  const limit = pLimit(PARALLEL_DELETES);
  for (const wave of waves) {
    if (ctx.signal.aborted) return;
    const batch = selected.filter((r) => wave.includes(r.type));
    await Promise.all(
      batch.map((r) =>
        limit(async () => {
          if (ctx.signal.aborted) return;
          await forget(ctx, out, affectedTasks(ctx.infra, r));
          await progress.note({ type: r.type, name: r.name, state: 'deleting' });
          try {
            await deleteResource(ctx, r);
            out.deleted.push(entry(r, 'deleted'));
            await progress.note({ type: r.type, name: r.name, state: 'deleted' });
            ctx.log.success(`deleted ${r.type} ${r.name}`);
          } catch (e) {
            if (ctx.signal.aborted) {
              out.interrupted.push(entry(r, 'interrupted while deleting: the request may have reached Google'));
              return;
            }
            const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
            out.failed.push(entry(r, reason));
            await progress.note({ type: r.type, name: r.name, state: 'failed' });
            ctx.log.error(`could not delete ${r.type} ${r.name}: ${reason}`);
          }
        }),
      ),
    );
  }
}

/** Drops the cache records of tasks whose work is about to be undone (before the request is sent). */
async function forget(ctx: TaskContext, out: CleanupOutput, tasks: string[]): Promise<void> {
  const fresh = tasks.filter((t) => !out.invalidated.includes(t));
  if (!fresh.length) return;
  await ctx.invalidate(fresh);
  out.invalidated.push(...fresh);
}

async function disableTheApis(ctx: TaskContext, apis: string[], out: CleanupOutput): Promise<void> {
  await forget(ctx, out, [TASK.apisEnable]);
  try {
    // Without --force Google refuses to disable an API used in the last 30 days or enabled in the last 3,
    // which is every API a project that just ran this tool has; it also disables the APIs that depend on them.
    await ctx.gcloud.mutate(['services', 'disable', ...apis, '--force'], { json: false });
    out.apisDisabled.push(...apis);
  } catch (e) {
    out.failed.push({ type: 'api', name: apis.join(','), reason: e instanceof Error ? e.message.split('\n')[0]! : String(e) });
  }
}

/** Prints the summary (the records were dropped as each deletion started) and fails when anything failed or was not discovered. */
async function finish(ctx: TaskContext, out: CleanupOutput, progress: CleanupProgress): Promise<CleanupOutput> {
  const target: RunTarget = ctx;
  if (!out.dryRun) await progress.clear();
  ctx.log.output(renderSummary(out, target));
  const problems = [
    ...(out.failed.length ? [`${plural(out.failed.length, 'deletion')} failed`] : []),
    ...(out.notDiscovered.length ? [`${plural(out.notDiscovered.length, 'resource type')} could not be discovered`] : []),
  ];
  if (problems.length)
    throw new UserError(`cleanup: ${problems.join(' and ')} (see the summary above).`, { hint: `Fix the cause and run ${taskCommand(target, TASK.cleanup)} again: what is already gone is not asked about again.` });
  return out;
}

export function renderSummary(out: CleanupOutput, target: RunTarget): string {
  const block = (title: string, list: CleanupEntry[], why: boolean) =>
    list.length ? [`${title} (${list.length}):`, ...list.map((e) => `  ${e.type} ${e.name}${why ? `: ${e.reason}` : ''}`)] : [];
  const lines = [
    `Cleanup summary · project ${out.project} · ${out.env}${out.dryRun ? ' · dry run' : ''}`,
    ...block('Deleted', out.deleted, false),
    ...block('Interrupted', out.interrupted, true),
    ...(out.apisDisabled.length ? [`APIs disabled: ${out.apisDisabled.join(', ')}`] : []),
    ...block('Failed', out.failed, true),
    ...block('Skipped', out.skipped, true),
    ...block('Left alone (not this tool\'s for this environment)', out.leftAlone, true),
    ...block('Not discovered', out.notDiscovered, true),
  ];
  if (!out.deleted.length && !out.failed.length && !out.interrupted.length && !out.dryRun) lines.push('Nothing was deleted.');
  if (out.deleted.length || out.interrupted.length) lines.push(`\`${taskCommand(target, TASK.setup)}\` recreates what was deleted (its cache entries were dropped).`);
  // Google holds a deleted Cloud SQL instance's name for about a week: setup cannot reuse it before then.
  for (const e of out.deleted.filter((d) => d.type === 'sql')) {
    lines.push(`Cloud SQL keeps the name ${e.name} reserved for about a week: until then sql:create fails with it (set another sql.instance in tasks.config.ts to recreate it sooner).`);
  }
  return lines.join('\n');
}
