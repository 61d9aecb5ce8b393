// db:migrate: runs the app's migration command (infra.migrateCommand, default `pnpm db:migrate`) in the
// app root with DATABASE_URL for the chosen target: the local database, or Cloud SQL through
// cloud-sql-proxy / the public IP. The URL (with the Cloud SQL password) is only in the child's environment.
import fs from 'node:fs';
import { UserError, UsageError } from '../../lib/engine/errors.js';
import type { InfraConfig } from '../../lib/gcp/infra.js';
import { defineTask, type JsonObject } from '../../lib/index.js';
import { openCloudSql } from '../../lib/postgres/connect.js';
import { redact } from '../../lib/engine/redact.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { resolveLocalDatabase } from './db-local.js';
import { TASK } from '../shared/task-names.js';

type Target = 'local' | 'cloud';

function chooseTarget(ctx: Pick<TaskContext, 'args' | 'env'>): Target {
  const given = ctx.args.target;
  if (given === undefined) return ctx.env === 'production' ? 'cloud' : 'local';
  if (given === 'local' || given === 'cloud') return given;
  throw new UsageError(`--target must be "local" or "cloud" (got "${String(given)}").`, 'pnpm task db:migrate -- --target=local');
}

export function dbMigrateTask(_infra: InfraConfig) {
  return defineTask<JsonObject>({
    name: TASK.dbMigrate,
    description: "Run the app's database migrations against the local database or Cloud SQL",
    args: { target: 'local (default in development: db:local or DATABASE_URL) or cloud (default in production: Cloud SQL)' },
    always: true,
    // The local target needs no GCP project or credentials. The engine asks before anything runs, so an
    // unknown target is a usage error (exit 2) right away.
    local: (args, env) => chooseTarget({ args, env }) === 'local',
    async run(ctx): Promise<JsonObject> {
      const target = chooseTarget(ctx);
      const command = ctx.infra.migrateCommand;
      const cwd = ctx.paths.appRoot;
      if (!fs.existsSync(cwd))
        throw new UserError(`The app root ${cwd} does not exist.`, { hint: 'Set APP_ROOT or appRoot in tasks.config.ts to the monorepo folder.' });
      if (ctx.dryRun) {
        ctx.log.info(`would run \`${command.join(' ')}\` in ${cwd} with DATABASE_URL for the ${target} database`);
        return { target, dryRun: true };
      }
      if (target === 'local') {
        const db = await resolveLocalDatabase(ctx);
        if (db.kind === 'embedded' && !db.alreadyRunning) ctx.log.info(`Started the local database (stop it with: pnpm task db:stop)`);
        await runMigrations(ctx, command, cwd, db.url, db.target.label);
        return { target, database: db.kind };
      }
      const conn = await openCloudSql(ctx);
      try {
        await runMigrations(ctx, command, cwd, conn.url, conn.target.label);
        return { target, database: 'cloud-sql', route: conn.route };
      } finally {
        await conn.close();
      }
    },
  });
}

async function runMigrations(ctx: TaskContext, command: string[], cwd: string, url: string, label: string): Promise<void> {
  ctx.log.info(`Running \`${command.join(' ')}\` in ${cwd} against ${label}`);
  const env = { ...process.env, ...ctx.vars, DATABASE_URL: url };
  const [bin, ...rest] = command;
  const result = await ctx.$({ cwd, env, nothrow: true, quiet: true })`${bin} ${rest}`;
  const output = redact(result.stdall).trim();
  if (output) ctx.log.output(output);
  if (result.exitCode !== 0)
    throw new UserError(`The migration command \`${command.join(' ')}\` failed (exit code ${result.exitCode}).`, {
      hint: 'Fix the migration (its output is above and in the task log) and run again.',
    });
  ctx.log.success(`Migrations applied to ${label}`);
}
