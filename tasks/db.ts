import type { InfraConfig } from '../lib/infra.js';
import type { TaskDef } from '../lib/types.js';

export function dbTasks(_infra: InfraConfig): TaskDef<any>[] {
  return [];
}
