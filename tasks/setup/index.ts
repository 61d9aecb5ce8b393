// The setup half of the catalogue: APIs, registry, buckets, service account, secrets, Cloud SQL, and
// `setup`, which runs them all (in parallel where the graph allows) and prints what exists, what this
// run created or changed, the connection details and the next steps.
import { defineTask } from '../../lib/index.js';
import type { InfraConfig } from '../../lib/gcp/infra.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import { apisEnable } from './apis.js';
import { bucketsCreate } from './buckets.js';
import { recordedReports } from '../shared/common.js';
import { taskCommand, type RunTarget } from '../shared/hints.js';
import { iamCreate } from './iam.js';
import { registryCreate } from './registry.js';
import { secretsCreate } from './secrets.js';
import { sqlCreate, sqlPassword } from './sql.js';
import { TASK, type TaskName } from '../shared/task-names.js';

const setupSteps = [apisEnable, registryCreate, bucketsCreate, iamCreate, secretsCreate, sqlCreate, sqlPassword];

const marks = { created: '+ created', updated: '~ updated', unchanged: '= exists ' } as const;

function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

/** The summary text: what exists, what this run did, how to connect, what to do next. */
export function setupSummary(ctx: Pick<TaskContext, 'infra' | 'env' | 'project' | 'region' | 'vars' | 'commandFor'>): string {
  const { infra } = ctx;
  const target: RunTarget = ctx;
  const command = (task: TaskName, args: string[] = []) => taskCommand(target, task, args);
  const journal = recordedReports(ctx);
  const lines = [`${infra.app} (${ctx.env}) in project ${ctx.project}, region ${ctx.region}`, '', 'Resources:'];
  for (const step of setupSteps) {
    const reports = journal.get(step.name);
    if (!reports) {
      lines.push(`  = exists   ${step.name}: unchanged since its last successful run (cached; --refresh checks the live resources)`);
      continue;
    }
    for (const r of reports) lines.push(`  ${marks[r.state]}  ${r.resource}${r.changes.length ? ` (${r.changes.join('; ')})` : ''}`);
  }
  const { sql } = infra;
  lines.push('', 'Connection details:', ...table([
    ['Cloud SQL connection name', sql.connectionName],
    ['Unix socket (Cloud Run)', sql.socketPath],
    ['database / user', `${sql.database} / ${sql.user} (password in secret ${sql.passwordSecret})`],
    ['from your machine', `cloud-sql-proxy ${sql.connectionName} --port=5432  (Cloud SQL Auth Proxy)`],
    ['registry', infra.registry.path],
    ...infra.buckets.map((b): [string, string] => [b.envVar, `gs://${b.name}`]),
    ['service account', infra.serviceAccount.email],
  ]));
  lines.push('', `Secrets (${infra.secrets.map((s) => s.name).join(', ')}) hold generated or supplied values, never shown.`,
    `  To replace one: gcloud secrets versions add NAME --data-file=- --project=${ctx.project}   (paste the value, then Ctrl-D)`,
    `  then run \`${command(TASK.sqlCreate)}\` after changing ${sql.passwordSecret}, so the ${sql.user} password follows it.`);
  lines.push('', 'Next steps:',
    `  1. ${command(TASK.sqlPgvector)}     enable pgvector (CREATE EXTENSION vector)`,
    `  2. ${command(TASK.dbMigrate, ['--target=cloud'])}   apply the migrations to Cloud SQL`,
    `  3. ${command(TASK.deployAll)}   build and deploy the services`,
    `  Local development: pnpm task db:local (PostgreSQL with pgvector on 127.0.0.1, no credentials), then pnpm task db:migrate.`,
    `  Status at any time: ${command(TASK.status)}; save money at night: ${command(TASK.sqlStop)}.`);
  return lines.join('\n');
}

export const setup = defineTask({
  name: TASK.setup,
  description: 'Set up everything (APIs, registry, buckets, service account, secrets, Cloud SQL) and print a summary with next steps',
  deps: setupSteps.map((t) => t.name),
  // The summary makes no gcloud call; it reports this run, so it is never served from the cache.
  always: true,
  run: async (ctx) => {
    ctx.log.output(setupSummary(ctx));
    const { infra } = ctx;
    return {
      env: ctx.env,
      project: ctx.project,
      region: ctx.region,
      connectionName: infra.sql.connectionName,
      socketPath: infra.sql.socketPath,
      registry: infra.registry.path,
      buckets: Object.fromEntries(infra.buckets.map((b) => [b.envVar, b.name])),
      serviceAccount: infra.serviceAccount.email,
      secrets: infra.secrets.map((s) => s.name),
      next: [TASK.sqlPgvector, TASK.dbMigrate, TASK.deployAll],
    };
  },
});

export function setupTasks(_infra: InfraConfig): TaskDef[] {
  return [...setupSteps, setup];
}
