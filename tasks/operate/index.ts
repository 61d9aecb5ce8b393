// Day-to-day operations: reports that always run live (status, list, cost), starting and stopping Cloud
// SQL, enabling one API and deleting one resource.
import type { InfraConfig } from '../../lib/gcp/infra.js';
import type { TaskDef } from '../../lib/engine/types.js';
import { costTask } from './cost.js';
import { listTask } from './list.js';
import { resourceTasks } from './resource.js';
import { sqlPowerTasks } from './sql-power.js';
import { statusTask } from './status.js';

export function opsTasks(_infra: InfraConfig): TaskDef[] {
  return [statusTask(), listTask(), costTask(), ...sqlPowerTasks(), ...resourceTasks()];
}
