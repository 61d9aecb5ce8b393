// All built-in tasks, grouped by resource. Each module exports a function from the infra data to its tasks.
import type { InfraConfig } from '../lib/infra.js';
import type { TaskDef } from '../lib/types.js';
import { setupTasks } from './setup.js';
import { buildDeployTasks } from './deploy.js';
import { opsTasks } from './ops.js';
import { cleanupTasks } from './cleanup.js';
import { dbTasks } from './db.js';
export { gcpEnvSchema } from './env-schema.js';

export function gcpTasks(infra: InfraConfig): TaskDef<any>[] {
  return [...setupTasks(infra), ...buildDeployTasks(infra), ...opsTasks(infra), ...cleanupTasks(infra), ...dbTasks(infra)];
}
