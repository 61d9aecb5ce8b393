// `sql:stop` / `sql:start`: switch the Cloud SQL instance's activation policy (NEVER = stopped, storage is
// still billed; ALWAYS = running), wait until the instance reports it, and show the monthly cost difference.
// Idempotent: stopping a stopped instance says so and succeeds.
import { defineTask } from '../../lib/index.js';
import { UserError } from '../../lib/engine/errors.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import { answerOrStop, guardEnvironment, isOwned } from '../shared/common.js';
import { taskCommand, type RunTarget } from '../shared/hints.js';
import { sqlMonthly } from './cost.js';
import { sqlResource, type Resource } from './discover.js';
import { formatMoney } from '../shared/format.js';
import { TASK } from '../shared/task-names.js';
import { readSqlInstance } from '../shared/cloud-reads.js';

export type SqlPowerOutput = {
  instance: string;
  activationPolicy: string;
  state: string;
  changed: boolean;
  /** The user answered no. */
  cancelled: boolean;
  monthlyBefore: number | null;
  monthlyAfter: number | null;
};

const WAIT_LIMIT_MS = 10 * 60_000;
const POLL_MS = 2_000;

/** The configured instance. */
export async function readConfiguredInstance(ctx: TaskContext): Promise<Resource<'sql'> | null> {
  const raw = await readSqlInstance(ctx, ctx.infra.sql.instance);
  return raw ? sqlResource(ctx.infra, raw, true) : null;
}

function sqlPowerTask(action: 'start' | 'stop'): TaskDef<SqlPowerOutput> {
  const target = action === 'stop' ? 'NEVER' : 'ALWAYS';
  return defineTask({
    name: `sql:${action}`,
    description: action === 'stop'
      ? 'Stop the Cloud SQL instance (activation policy NEVER): only its storage is billed; services using the database fail until sql:start'
      : 'Start the Cloud SQL instance (activation policy ALWAYS) and wait until it is running',
    always: true,
    destructive: action === 'stop',
    run: async (ctx) => {
      const sql = ctx.infra.sql;
      const here: RunTarget = ctx;
      const before = await readConfiguredInstance(ctx);
      if (!before) throw new UserError(`Cloud SQL instance ${sql.instance} does not exist in project ${ctx.project}.`, { hint: `Create it with: ${taskCommand(here, TASK.sqlCreate)}` });
      guardEnvironment(ctx.infra, `Cloud SQL instance ${sql.instance}`, before.labels);
      if (!isOwned(before.labels, ctx.infra))
        throw new UserError(`Cloud SQL instance ${sql.instance} is not managed (no labels): ${ctx.infra.managedBy} did not create it. Nothing was changed.`, {
          hint: `Adopt it first with ${taskCommand(here, TASK.sqlCreate, ['--adopt'])}, or ${action} it by hand.`,
        });
      const monthly = (running: boolean) => {
        const c = sqlMonthly(ctx.infra.prices, before.details, running);
        return c.instance === null ? null : Math.round((c.instance + c.storage) * 100) / 100; // to the cent
      };
      const output = (now: Resource<'sql'>, changed: boolean, cancelled = false): SqlPowerOutput => ({
        instance: sql.instance,
        activationPolicy: now.details.activationPolicy,
        state: now.state,
        changed,
        cancelled,
        monthlyBefore: monthly(before.details.activationPolicy !== 'NEVER'),
        monthlyAfter: monthly(now.details.activationPolicy !== 'NEVER'),
      });

      if (before.details.activationPolicy === target) {
        ctx.log.success(`Cloud SQL instance ${sql.instance} is already ${action === 'stop' ? 'stopped' : 'running'} (activation policy ${target}); nothing to do.`);
        ctx.log.output(costLine(ctx, monthly(target === 'ALWAYS'), action));
        return output(before, false);
      }
      if (action === 'stop') {
        const users = ctx.infra.services.filter((s) => s.needs.database).map((s) => s.name);
        const ok = await answerOrStop(ctx.signal, ctx.prompt.confirm(
          `Stop Cloud SQL instance ${sql.instance} in project ${ctx.project}? While it is stopped, services that use the database (${users.join(', ') || 'none'}) fail. Start it again with ${taskCommand(here, TASK.sqlStart)}.`,
        ));
        if (!ok) {
          ctx.log.warn('Not stopped: nothing changed.');
          return output(before, false, true);
        }
      }
      await ctx.gcloud.mutate(['sql', 'instances', 'patch', sql.instance, `--activation-policy=${target}`]);
      if (ctx.dryRun) return output(before, false);
      const after = await waitForPolicy(ctx, target);
      ctx.log.success(`Cloud SQL instance ${sql.instance}: ${after.state} (activation policy ${after.details.activationPolicy}).`);
      const [was, now] = [monthly(before.details.activationPolicy !== 'NEVER'), monthly(target === 'ALWAYS')];
      ctx.log.output(
        was === null || now === null
          ? `Monthly cost: unknown (tier ${before.details.tier} has no price in tasks.config.ts → prices.sqlTierMonthly).`
          : `Monthly cost: ${fmt(ctx, was)} → ${fmt(ctx, now)} (${now < was ? 'saves' : 'adds'} ${fmt(ctx, Math.abs(now - was))} per month while ${action === 'stop' ? 'stopped' : 'running'}).`,
      );
      return output(after, true);
    },
  });
}

const fmt = (ctx: TaskContext, n: number) => formatMoney(n, ctx.infra.prices.currency);

function costLine(ctx: TaskContext, monthly: number | null, action: 'start' | 'stop'): string {
  return monthly === null ? 'Monthly cost: unknown (tier not in the prices table).' : `Monthly cost while ${action === 'stop' ? 'stopped (storage only)' : 'running'}: ${fmt(ctx, monthly)}.`;
}

/** Polls until the instance reports the policy (and, when starting, is RUNNABLE again). */
async function waitForPolicy(ctx: TaskContext, target: 'NEVER' | 'ALWAYS'): Promise<Resource<'sql'>> {
  const until = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const now = await readConfiguredInstance(ctx);
    if (!now) throw new UserError(`Cloud SQL instance ${ctx.infra.sql.instance} disappeared while changing its activation policy.`);
    if (now.details.activationPolicy === target && (target === 'NEVER' || now.details.state === 'RUNNABLE')) return now;
    if (Date.now() > until)
      throw new UserError(`Cloud SQL instance ${ctx.infra.sql.instance} did not reach activation policy ${target} within ${WAIT_LIMIT_MS / 60_000} minutes (now: ${now.state}).`, {
        hint: `Check it with ${taskCommand(ctx, TASK.status)}; the change may still complete.`,
      });
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export const sqlPowerTasks = (): TaskDef[] => [sqlPowerTask('stop'), sqlPowerTask('start')];
