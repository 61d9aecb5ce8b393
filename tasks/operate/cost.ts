// `cost`: a monthly estimate from the prices table in tasks.config.ts and what actually exists (the SQL
// tier and activation policy, bucket sizes, stored image sizes, secret versions). The arithmetic is a pure
// function of those facts; the task only gathers them.
import { defineTask } from '../../lib/index.js';
import type { ResolvedInfra } from '../../lib/gcp/infra.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import { discover, managedOf, type Discovery } from './discover.js';
import { formatBytes, formatMoney, plural } from '../shared/format.js';
import { describeFailure } from '../shared/query.js';
import { queryDeadline, timeoutArg } from './status.js';
import { TASK } from '../shared/task-names.js';

type Prices = ResolvedInfra['prices'];
const GiB = 1024 ** 3;

export type SqlFacts = { name: string; tier: string; activationPolicy: string; availabilityType: string; diskGb: number; diskType: string; exists: boolean };

export type CostFacts = {
  /** null when the instance query did not answer. */
  sql: SqlFacts | null;
  bucketBytes: number | null;
  buckets: number;
  registryBytes: number | null;
  secretVersions: number | null;
  services: { name: string; minInstances: number }[];
};

export type CostLine = { item: string; detail: string; monthly: number | null };
export type CostReport = {
  project: string;
  currency: string;
  pricesTakenOn: string;
  lines: CostLine[];
  total: number;
  /** Lines without a price (unknown tier, query that did not answer) are not in the total. */
  incomplete: string[];
  notes: string[];
  pgvectorSavingMonthly: number;
  links: { billing: string; budgets: string };
};

/** Monthly price of an instance: the tier (×REGIONAL multiplier) while it runs, storage always. null = tier not in the table. */
export function sqlMonthly(prices: Prices, sql: Pick<SqlFacts, 'tier' | 'availabilityType' | 'diskGb' | 'diskType'>, running: boolean): { instance: number | null; storage: number } {
  const tierPrice = prices.sqlTierMonthly[sql.tier];
  const multiplier = sql.availabilityType === 'REGIONAL' ? prices.sqlRegionalMultiplier : 1;
  const perGb = sql.diskType === 'PD_HDD' || sql.diskType === 'HDD' ? prices.sqlStorageGbMonthHdd : prices.sqlStorageGbMonthSsd;
  return { instance: running ? (tierPrice === undefined ? null : tierPrice * multiplier) : 0, storage: sql.diskGb * perGb };
}

export function estimateCost(project: string, prices: Prices, facts: CostFacts): CostReport {
  const money = (n: number) => formatMoney(n, prices.currency);
  const lines: CostLine[] = [];
  const incomplete: string[] = [];
  const notes: string[] = [];

  if (facts.sql === null) incomplete.push('Cloud SQL (the query did not answer)');
  else {
    const { sql } = facts;
    const running = sql.activationPolicy !== 'NEVER';
    const cost = sqlMonthly(prices, sql, running);
    const what = `Cloud SQL ${sql.name}${sql.exists ? '' : ' (not created; config values)'}`;
    const scaled = sql.availabilityType === 'REGIONAL' ? ` ×${prices.sqlRegionalMultiplier} REGIONAL` : '';
    if (!sql.exists) lines.push({ item: what, detail: 'does not exist: costs nothing', monthly: 0 });
    else {
      lines.push({ item: what, detail: running ? `${sql.tier}${scaled}, running` : `${sql.tier}, stopped (storage only)`, monthly: cost.instance });
      if (cost.instance === null) incomplete.push(`Cloud SQL tier ${sql.tier} has no price: add it to prices.sqlTierMonthly in tasks.config.ts`);
      lines.push({ item: '', detail: `${sql.diskGb} GB ${sql.diskType.replace('PD_', '')} storage`, monthly: cost.storage });
      if (running && cost.instance !== null) notes.push(`Stopping Cloud SQL at night and at weekends (pnpm task sql:stop) leaves only storage: ${money(cost.storage)}/month while stopped.`);
    }
  }

  const gbLine = (item: string, bytes: number | null, perGb: number, what: string) => {
    if (bytes === null) incomplete.push(`${item} (the size query did not answer)`);
    else lines.push({ item, detail: `${formatBytes(bytes)} ${what}`, monthly: (bytes / GiB) * perGb });
  };
  gbLine(`Cloud Storage (${plural(facts.buckets, 'bucket')})`, facts.bucketBytes, prices.storageGbMonth, 'stored');
  gbLine('Artifact Registry', facts.registryBytes, prices.registryGbMonth, 'of images');
  if (facts.secretVersions === null) incomplete.push('Secret Manager (the version query did not answer)');
  else lines.push({ item: 'Secret Manager', detail: `${plural(facts.secretVersions, 'active version')}`, monthly: facts.secretVersions * prices.secretVersionMonth });

  const alwaysOn = facts.services.filter((s) => s.minInstances > 0);
  lines.push({ item: `Cloud Run (${plural(facts.services.length, 'service')})`, detail: 'pay per use: requests, CPU and memory while serving', monthly: null });
  notes.push(
    alwaysOn.length
      ? `Cloud Run: ${alwaysOn.map((s) => `${s.name} keeps ${s.minInstances} instance(s) warm`).join(', ')}: those are billed all the time (not estimated here).`
      : 'Cloud Run: min instances 0, so an idle service costs nothing; you pay only while requests are served (the free tier covers light use).',
  );
  const total = lines.reduce((sum, l) => sum + (l.monthly ?? 0), 0);
  notes.push(`pgvector keeps the embeddings in Cloud SQL, so there is no separate vector database: about ${money(prices.vectorDbMonthly)}/month saved compared with ${prices.vectorDbName}.`);
  return {
    project,
    currency: prices.currency,
    pricesTakenOn: prices.takenOn,
    lines,
    total,
    incomplete,
    notes,
    pgvectorSavingMonthly: prices.vectorDbMonthly,
    links: {
      billing: `https://console.cloud.google.com/billing/linkedaccount?project=${encodeURIComponent(project)}`,
      budgets: 'https://console.cloud.google.com/billing/budgets',
    },
  };
}

export function renderCost(report: CostReport): string {
  const money = (n: number) => formatMoney(n, report.currency);
  const rows = report.lines.map((l) => [l.item, l.detail, l.monthly === null ? '' : money(l.monthly)]);
  rows.push(['Total', report.incomplete.length ? 'estimate (see below)' : 'estimate', money(report.total)]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const fmt = (r: string[]) => `  ${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padStart(w[2])}`.trimEnd();
  const body = rows.map(fmt);
  body.splice(body.length - 1, 0, `  ${'─'.repeat(w[0] + w[1] + w[2] + 4)}`);
  return [
    `Monthly cost estimate · project ${report.project} · list prices of ${report.pricesTakenOn} (${report.currency}; override them in tasks.config.ts → prices)`,
    '',
    ...body,
    ...(report.incomplete.length ? ['', 'Not in the total:', ...report.incomplete.map((i) => `  - ${i}`)] : []),
    '',
    ...report.notes,
    '',
    `Actual costs: ${report.links.billing}`,
    `Budget alerts: ${report.links.budgets}`,
  ].join('\n');
}

/** The facts of this environment's managed resources (config values for a SQL instance that does not exist). */
export function costFacts(infra: ResolvedInfra, found: Partial<Discovery>): CostFacts {
  const sqlList = managedOf(found, 'sql');
  const instance = sqlList?.find((i) => i.name === infra.sql.instance);
  const sql: SqlFacts | null = sqlList === null
    ? null
    : instance
      ? { name: instance.name, exists: true, ...instance.details }
      : { name: infra.sql.instance, exists: false, tier: infra.sql.tier, activationPolicy: 'ALWAYS', availabilityType: infra.sql.availabilityType, diskGb: infra.sql.storageSizeGb, diskType: infra.sql.storageType };
  const buckets = managedOf(found, 'bucket');
  const bucketBytes = buckets === null || buckets.some((b) => b.details.sizeBytes === null) ? null : buckets.reduce((s, b) => s + (b.details.sizeBytes ?? 0), 0);
  const repos = managedOf(found, 'registry');
  const secrets = managedOf(found, 'secret');
  const secretVersions = secrets === null || secrets.some((s) => s.details.versions === null) ? null : secrets.reduce((s, x) => s + (x.details.versions ?? 0), 0);
  const services = managedOf(found, 'service');
  return {
    sql,
    bucketBytes,
    buckets: buckets?.length ?? 0,
    registryBytes: repos === null ? null : repos.reduce((s, r) => s + r.details.sizeBytes, 0),
    secretVersions,
    // Deployed scaling when the service exists, the config's otherwise.
    services: infra.services.map((svc) => ({ name: svc.name, minInstances: services?.find((s) => s.name === svc.name)?.details.minInstances ?? svc.minInstances })),
  };
}

export function costTask(): TaskDef<CostReport> {
  return defineTask({
    name: TASK.cost,
    description: 'Estimate the monthly cost from the prices in tasks.config.ts and the actual resources (SQL tier, bucket and image sizes)',
    always: true,
    args: timeoutArg,
    run: async (ctx: TaskContext) => {
      const found = await discover(ctx, { types: ['sql', 'bucket', 'registry', 'secret', 'service'], deadline: queryDeadline(ctx) });
      for (const [type, p] of Object.entries(found)) if (p && p.state !== 'ok') ctx.log.warn(`${type}: ${describeFailure(p)}`);
      const report = estimateCost(ctx.project, ctx.infra.prices, costFacts(ctx.infra, found));
      ctx.log.output(renderCost(report));
      return report;
    },
  });
}
