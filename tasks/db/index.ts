// The database tasks: pgvector on Cloud SQL, the local development database, migrations.
import type { InfraConfig } from '../../lib/gcp/infra.js';
import type { TaskDef } from '../../lib/engine/types.js';
import { dbLocalTasks } from './db-local.js';
import { dbMigrateTask } from './db-migrate.js';
import { sqlPgvectorTask } from '../setup/sql-pgvector.js';

export { localDbStatus } from './db-local.js';

export function dbTasks(infra: InfraConfig): TaskDef[] {
  return [sqlPgvectorTask(infra), ...dbLocalTasks(infra), dbMigrateTask(infra)];
}
