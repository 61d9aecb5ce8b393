import type { InfraConfig } from '../lib/infra.js';
import type { TaskDef } from '../lib/types.js';

export function cleanupTasks(_infra: InfraConfig): TaskDef<any>[] {
  return [];
}
