// All built-in tasks, grouped by resource. Each module exports a function from the infra data to its tasks.
import type { InfraConfig } from '../lib/gcp/infra.js';
import type { TaskDef } from '../lib/engine/types.js';
import { setupTasks } from './setup/index.js';
import { buildDeployTasks } from './deploy/index.js';
import { opsTasks } from './operate/index.js';
import { cleanupTasks } from './operate/cleanup.js';
import { dbTasks } from './db/index.js';
import { stateInit, stateMigrate } from './setup/state.js';
export { gcpEnvSchema } from './shared/env-schema.js';

export function gcpTasks(infra: InfraConfig): TaskDef[] {
  return [...setupTasks(infra), ...buildDeployTasks(infra), ...opsTasks(infra), ...cleanupTasks(infra), ...dbTasks(infra), stateInit, stateMigrate];
}
