// sql:pgvector: enables pgvector in the Cloud SQL database (CREATE EXTENSION IF NOT EXISTS vector) and
// proves it works. Connects through cloud-sql-proxy or the instance's public IP (lib/postgres/connect.ts).
import type { InfraConfig } from '../../lib/gcp/infra.js';
import { defineTask, type JsonObject } from '../../lib/index.js';
import { withPg } from '../../lib/postgres/client.js';
import { openCloudSql, runnableInstance } from '../../lib/postgres/connect.js';
import { enablePgvector } from '../../lib/postgres/pgvector.js';
import { TASK } from '../shared/task-names.js';
import { readSqlInstance } from '../shared/cloud-reads.js';

export function sqlPgvectorTask(_infra: InfraConfig) {
  return defineTask<JsonObject>({
    name: TASK.sqlPgvector,
    description: 'Enable the pgvector extension in the Cloud SQL database (through cloud-sql-proxy or the public IP)',
    deps: [TASK.sqlPassword],
    inputs: {
      config: ({ infra, project }) => ({ project, instance: infra.sql.instance, database: infra.sql.database }),
    },
    // With --refresh: run again when the instance is gone or was replaced.
    check: async (ctx) => (await readSqlInstance(ctx, ctx.infra.sql.instance)) !== null,
    async run(ctx): Promise<JsonObject> {
      const { instance, database } = ctx.infra.sql;
      if (ctx.dryRun) {
        await runnableInstance(ctx).catch((err) => ctx.log.warn(String((err as Error).message)));
        ctx.log.info(`would connect to database "${database}" on Cloud SQL instance "${instance}" and run CREATE EXTENSION IF NOT EXISTS vector`);
        return { instance, database, dryRun: true };
      }
      const conn = await openCloudSql(ctx);
      try {
        const info = await withPg(conn.target, (client) => enablePgvector(client, conn.target.label));
        ctx.log.success(`pgvector ${info.version} is enabled in database "${database}" on ${conn.target.label}`);
        return { instance, database, extension: 'vector', version: info.version, route: conn.route };
      } finally {
        await conn.close();
      }
    },
  });
}
