// `status`: what exists, how it differs from tasks.config.ts, and what is missing (with the task that
// creates it). Every query runs at once with its own time limit inside an overall budget, so the report
// always arrives and a slow API shows as "timed out", never as "missing".
import { defineTask } from '../../lib/index.js';
import { UsageError } from '../../lib/engine/errors.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import type { IamPolicy } from '../shared/common.js';
import * as shapes from '../../lib/gcp/resources.js';
import type { z } from 'zod';
import { localDbStatus } from '../db/index.js';
import { serviceEnvVars } from '../deploy/deploy-env.js';
import type { LocalDbStatus } from '../../lib/postgres/local.js';
import { configuredNames, discover, typeTitles, type Discovery, type Resource, type ResourceType } from './discover.js';
import { bucketDrift, roleDrift, serviceDrift, sqlDrift } from './drift.js';
import { columns, formatBytes, plural } from '../shared/format.js';
import { Deadline, describeFailure, probe, type Probe } from '../shared/query.js';
import { TASK } from '../shared/task-names.js';
import * as reads from '../shared/cloud-reads.js';

export type StatusState = 'ok' | 'missing' | 'not-managed' | 'drift' | 'stopped' | 'not-ready' | 'extra' | 'timed-out' | 'error';

export type StatusItem = {
  section: string;
  name: string;
  state: StatusState;
  /** One line of facts (size, tier, URL, …). */
  summary: string;
  /** Differences from the config, or why the item is not ok. */
  problems: string[];
  /** The command that creates or fixes it. */
  fix: string | null;
  /** Further lines (connection details, traffic split). */
  notes: string[];
};

export type StatusReport = {
  project: string;
  region: string;
  env: string;
  elapsedMs: number;
  items: StatusItem[];
  counts: Record<StatusState, number>;
};

/** Whole-report budget: status must answer within 30 s; the margin covers process start and printing. */
export const STATUS_BUDGET_MS = 25_000;
const DEFAULT_QUERY_TIMEOUT_S = 10;

export function queryDeadline(ctx: Pick<TaskContext, 'args'>): Deadline {
  const raw = ctx.args.timeout;
  const seconds = raw === undefined ? DEFAULT_QUERY_TIMEOUT_S : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${String(raw)}".`, 'Example: pnpm task status -- --timeout=5');
  // A user who raises the per-query limit above the budget accepts a longer report.
  return new Deadline(seconds * 1000, Math.max(STATUS_BUDGET_MS, seconds * 1000));
}

export const timeoutArg = {
  timeout: `seconds one cloud query may take before it is reported as timed out (default ${DEFAULT_QUERY_TIMEOUT_S}; the whole report stays under 30 s unless this is larger)`,
};

export function statusTask(): TaskDef<StatusReport> {
  return defineTask({
    name: TASK.status,
    description: 'Show every resource: what exists, sizes, state, URLs, drift from tasks.config.ts, and what is missing',
    always: true,
    args: timeoutArg,
    run: async (ctx) => {
      const report = await collectStatus(ctx, queryDeadline(ctx));
      ctx.log.output(renderStatus(report));
      return report;
    },
  });
}

export async function collectStatus(ctx: TaskContext, deadline: Deadline): Promise<StatusReport> {
  const started = Date.now();
  const [found, apis, policy, alerts, localDb] = await Promise.all([
    discover(ctx, { types: ['service', 'sql', 'bucket', 'registry', 'secret', 'sa'], deadline }),
    probe(deadline, (timeoutMs) => reads.listEnabledServices(ctx, { timeoutMs })),
    probe(deadline, (timeoutMs) => reads.readProjectPolicy(ctx, { timeoutMs })),
    probe(deadline, (timeoutMs) => reads.listAlertPolicies(ctx, { timeoutMs })),
    probe(deadline, () => localDbStatus(ctx.paths)),
  ]);
  const items = [
    ...apiItems(ctx, apis),
    ...bucketItems(ctx, found.bucket!),
    ...sqlItems(ctx, found.sql!),
    ...registryItems(ctx, found.registry!),
    ...serviceAccountItems(ctx, found.sa!, policy),
    ...secretItems(ctx, found.secret!),
    ...serviceItems(ctx, found.service!),
    alertItem(alerts),
    localDbItem(localDb),
  ];
  const counts = Object.fromEntries(
    (['ok', 'missing', 'not-managed', 'drift', 'stopped', 'not-ready', 'extra', 'timed-out', 'error'] as StatusState[]).map((s) => [s, items.filter((i) => i.state === s).length]),
  ) as Record<StatusState, number>;
  return { project: ctx.project, region: ctx.region, env: ctx.env, elapsedMs: Date.now() - started, items, counts };
}

// ---------------------------------------------------------------- items per resource type

const item = (section: string, name: string, state: StatusState, summary: string, extra: Partial<StatusItem> = {}): StatusItem => ({
  section, name, state, summary, problems: [], fix: null, notes: [], ...extra,
});

/** An item for a configured resource whose type query did not answer. */
const unknownItem = (section: string, name: string, p: Probe<unknown>): StatusItem =>
  item(section, name, p.state === 'timed-out' ? 'timed-out' : 'error', describeFailure(p));

/**
 * The configured names of one type matched against what was found: found → `present(resource)`,
 * found without the tool's labels → not managed (someone else made it: adopt it or leave it alone),
 * absent → missing with `fix`, query failed → timed out / error. Managed resources the config does not
 * name are listed as extra (left over from an older config, or created by hand with the labels).
 */
function matchConfigured<T extends ResourceType>(
  ctx: TaskContext,
  type: T,
  found: Discovery[T],
  fix: (name: string) => string,
  present: (resource: Resource<T>) => StatusItem,
): StatusItem[] {
  const section = typeTitles[type];
  const names = configuredNames(ctx.infra)[type];
  if (found.state !== 'ok') return names.map((n) => unknownItem(section, n, found));
  const resources = found.value as Resource<T>[];
  const configured = names.map((name) => {
    const resource = resources.find((r) => r.name === name && r.scope === 'managed');
    if (resource) return present(resource);
    if (resources.some((r) => r.name === name && r.scope === 'unlabelled'))
      return item(section, name, 'not-managed', `not managed (no labels): ${ctx.infra.managedBy} did not create it and leaves it alone`, { fix: `${fix(name)} -- --adopt (to manage it), or give the config another name` });
    return item(section, name, 'missing', '', { fix: fix(name) });
  });
  const extra = resources
    .filter((r) => r.scope === 'managed' && !names.includes(r.name))
    .map((r) => item(section, r.name, 'extra', `${r.state} · managed by ${ctx.infra.managedBy} but not in tasks.config.ts`, { fix: `pnpm task resource:delete -- --type=${r.type} --name=${r.name}` }));
  return [...configured, ...extra];
}

function apiItems(ctx: TaskContext, apis: Probe<z.infer<typeof shapes.enabledService>[]>): StatusItem[] {
  if (apis.state === 'timed-out' || apis.state === 'error') return ctx.infra.apis.map((a) => unknownItem('APIs', a, apis));
  const enabled = new Set((apis.state === 'ok' ? apis.value ?? [] : []).map((s) => s.config?.name ?? String(s.name ?? '').split('/').pop()));
  return ctx.infra.apis.map((api) =>
    enabled.has(api) ? item('APIs', api, 'ok', 'enabled') : item('APIs', api, 'missing', '', { fix: `pnpm task apis:enable (or: pnpm task api:enable -- --name=${api})` }),
  );
}

function bucketItems(ctx: TaskContext, found: Discovery['bucket']): StatusItem[] {
  return matchConfigured(ctx, 'bucket', found, () => 'pnpm task buckets:create', (b) => {
    const d = b.details;
    const size = d.sizeBytes === null ? (d.sizeNote ?? 'size unknown') : `${formatBytes(d.sizeBytes)}, ${plural(d.objects ?? 0, 'object')}`;
    const wanted = ctx.infra.buckets.find((w) => w.name === b.name)!;
    const problems = bucketDrift(wanted, d);
    return item(typeTitles.bucket, b.name, problems.length ? 'drift' : 'ok', `${size} · ${d.location}${problems.length ? '' : ' · lifecycle as configured'}`, {
      problems,
      fix: problems.length ? 'pnpm task buckets:create --force' : null,
    });
  });
}

function sqlItems(ctx: TaskContext, found: Discovery['sql']): StatusItem[] {
  const sql = ctx.infra.sql;
  return matchConfigured(ctx, 'sql', found, () => 'pnpm task sql:create', (i) => {
    const d = i.details;
    const problems = sqlDrift(sql, d);
    const stopped = d.activationPolicy === 'NEVER';
    const state: StatusState = problems.length ? 'drift' : stopped ? 'stopped' : d.state === 'RUNNABLE' ? 'ok' : 'not-ready';
    const notes = [
      `connection name  ${d.connectionName || sql.connectionName}`,
      `Cloud Run socket ${sql.socketPath}`,
      `connect locally  cloud-sql-proxy ${d.connectionName || sql.connectionName} --port=5432, then psql "host=127.0.0.1 port=5432 dbname=${sql.database} user=${sql.user}"`,
      `pgvector         pnpm task sql:pgvector`,
      ...(stopped ? ['stopped (activation policy NEVER): start it with pnpm task sql:start'] : []),
    ];
    return item(typeTitles.sql, i.name, state, `${i.state} · ${d.tier} · ${d.databaseVersion} · ${d.availabilityType} · activation ${d.activationPolicy} · ${d.diskGb} GB`, {
      problems,
      notes,
      fix: problems.length ? 'change it in the Cloud console or with gcloud sql instances patch (sql:create does not modify an existing instance)' : null,
    });
  });
}

function registryItems(ctx: TaskContext, found: Discovery['registry']): StatusItem[] {
  const items = matchConfigured(ctx, 'registry', found, () => 'pnpm task registry:create', (r) => {
    const d = r.details;
    const problems = d.format === 'DOCKER' ? [] : [`format ${d.format} (config: DOCKER)`];
    const images = d.images === null ? (d.imagesNote ?? 'images unknown') : plural(d.images.length, 'image');
    return item(typeTitles.registry, r.name, problems.length ? 'drift' : 'ok', `${ctx.infra.registry.path} · ${images} · ${formatBytes(d.sizeBytes)}`, { problems });
  });
  // One line per service image: the newest tags, or missing with the build task.
  const repo = found.state === 'ok' ? found.value.find((r) => r.name === ctx.infra.registry.name && r.scope === 'managed') : undefined;
  if (!repo || repo.details.images === null) return items;
  const images = repo.details.images;
  return [
    ...items,
    ...ctx.infra.services.map((svc) => {
      const mine = images.filter((i) => i.name === svc.key);
      if (!mine.length) return item('Images', svc.key, 'missing', 'no image yet', { fix: `pnpm task build:${svc.key}` });
      const tags = mine.flatMap((i) => i.tags);
      const newest = tags.filter((t) => t !== 'latest').sort().pop();
      return item('Images', svc.key, 'ok', `${plural(mine.length, 'image')}${newest ? ` · newest tag ${newest}` : ''}${tags.includes('latest') ? ' · latest' : ''}`);
    }),
  ];
}

function serviceAccountItems(ctx: TaskContext, found: Discovery['sa'], policy: Probe<IamPolicy>): StatusItem[] {
  return matchConfigured(ctx, 'sa', found, () => 'pnpm task iam:create', (a) => {
    if (policy.state !== 'ok') return item(typeTitles.sa, a.name, policy.state === 'timed-out' ? 'timed-out' : 'error', `${a.state} · roles: ${describeFailure(policy)}`);
    const { missing, extra } = roleDrift(ctx.infra.serviceAccount, policy.value);
    const problems = [...(missing.length ? [`roles missing: ${missing.join(', ')}`] : []), ...(extra.length ? [`roles not in config: ${extra.join(', ')}`] : [])];
    const granted = ctx.infra.serviceAccount.roles.length - missing.length;
    return item(typeTitles.sa, a.name, problems.length ? 'drift' : 'ok', `${a.state} · ${granted} of ${ctx.infra.serviceAccount.roles.length} roles`, {
      problems,
      notes: [`roles: ${ctx.infra.serviceAccount.roles.filter((r) => !missing.includes(r)).join(', ') || 'none'}`],
      fix: missing.length ? 'pnpm task iam:create --force' : null,
    });
  });
}

function secretItems(ctx: TaskContext, found: Discovery['secret']): StatusItem[] {
  return matchConfigured(ctx, 'secret', found, () => 'pnpm task secrets:create', (s) => {
    const versions = s.details.versions;
    if (versions === null) return item(typeTitles.secret, s.name, 'ok', 'exists · version count unknown (query did not answer)');
    return versions > 0
      ? item(typeTitles.secret, s.name, 'ok', plural(versions, 'version'))
      : item(typeTitles.secret, s.name, 'drift', 'no usable version', { problems: ['no enabled version: services cannot read it'], fix: 'pnpm task secrets:create --force' });
  });
}

function serviceItems(ctx: TaskContext, found: Discovery['service']): StatusItem[] {
  return matchConfigured(ctx, 'service', found, (name) => `pnpm task deploy:${ctx.infra.services.find((s) => s.name === name)!.key}`, (s) => {
    const d = s.details;
    const wanted = ctx.infra.services.find((w) => w.name === s.name)!;
    const problems = serviceDrift(ctx.infra, wanted, d, Object.keys(serviceEnvVars(ctx, wanted, {})));
    const state: StatusState = !d.ready ? 'not-ready' : problems.length ? 'drift' : 'ok';
    const traffic = d.traffic.map((t) => `${t.percent}% ${t.revision}`).join(', ') || 'none';
    return item(typeTitles.service, s.name, state, `${d.url ?? 'no URL'} · revision ${d.revision ?? 'none'} · ${d.ready ? 'ready' : 'NOT ready'}`, {
      problems: [...(d.ready ? [] : [`not ready: ${d.readyMessage ?? 'no reason given'}`]), ...problems],
      notes: [`traffic: ${traffic}`],
      fix: state === 'ok' ? null : `pnpm task deploy:${wanted.key} --force`,
    });
  });
}

function alertItem(alerts: Probe<z.infer<typeof shapes.alertPolicy>[]>): StatusItem {
  if (alerts.state === 'timed-out' || alerts.state === 'error') return unknownItem('Monitoring', 'alert policies', alerts);
  const list = alerts.state === 'ok' ? alerts.value ?? [] : [];
  const enabled = list.filter((p) => p.enabled !== false).length;
  return item('Monitoring', 'alert policies', 'ok', `${plural(list.length, 'alert policy', 'alert policies')} (${enabled} enabled)`);
}

function localDbItem(db: Probe<LocalDbStatus>): StatusItem {
  const section = 'Local development database';
  if (db.state !== 'ok') return unknownItem(section, 'db:local', db);
  const s = db.value;
  if (s.state === 'stopped') return item(section, 'db:local', 'stopped', 'not running', { fix: 'pnpm task db:local' });
  const where = `${s.host}:${s.port} (pid ${s.pid})`;
  return s.state === 'running'
    ? item(section, 'db:local', 'ok', `running on ${where}`)
    : item(section, 'db:local', 'error', `process alive but ${where} does not answer`, { fix: 'pnpm task db:stop && pnpm task db:local' });
}

// ---------------------------------------------------------------- rendering

const marks: Record<StatusState, string> = {
  ok: '✔', missing: '✗', 'not-managed': '?', drift: '~', stopped: '■', 'not-ready': '!', extra: '+', 'timed-out': '⏱', error: '!',
};

export function renderStatus(report: StatusReport): string {
  const lines = [`Project ${report.project} · region ${report.region} · environment ${report.env} · ${(report.elapsedMs / 1000).toFixed(1)} s`];
  const sections = [...new Set(report.items.map((i) => i.section))];
  for (const section of sections) {
    const items = report.items.filter((i) => i.section === section);
    lines.push('', section);
    if (section === 'APIs' && items.every((i) => i.state === 'ok')) {
      lines.push(`  ✔ all ${items.length} required APIs enabled`);
      continue;
    }
    const shown = section === 'APIs' ? items.filter((i) => i.state !== 'ok') : items;
    if (section === 'APIs') lines.push(`  ${items.length - shown.length} of ${items.length} required APIs enabled`);
    const rows = columns(shown.map((i) => [`${marks[i.state]} ${i.name}`, i.state === 'ok' ? '' : i.state.toUpperCase(), i.summary]), '  ').split('\n');
    shown.forEach((i, n) => {
      const fix = i.fix ? [`→ ${i.state === 'missing' ? 'created by' : 'fix'}: ${i.fix}`] : [];
      lines.push(rows[n].trimEnd(), ...[...i.problems.map((p) => `drift: ${p}`), ...i.notes, ...fix].map((m) => `      ${m}`));
    });
  }
  const c = report.counts;
  const parts = (Object.keys(c) as StatusState[]).filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`);
  lines.push('', `Summary: ${parts.join(', ')}`);
  if (c['timed-out']) lines.push('Timed-out parts are unknown, not missing: run status again, or raise -- --timeout=SECONDS.');
  return lines.join('\n');
}
