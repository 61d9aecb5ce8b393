// The public API for config files: `import { defineConfig, defineTask } from 'gcp-tasks/lib/index.js'`.
import type { ConfigDef, Json, TaskDef } from './engine/types.js';
import type { InfraConfig } from './gcp/infra.js';
import { callerFile, recordTaskSource } from './engine/task-source.js';

/**
 * Declares a task. Returns it unchanged (for type inference), remembering the module that called it: the
 * task's code fingerprint is that module and everything it imports.
 */
export function defineTask<Out extends Json | void>(task: TaskDef<Out>): TaskDef<Out> {
  recordTaskSource(task, callerFile(1));
  return task;
}

/** Declares a config: the default export of tasks.config.ts. Validated by the engine when loaded. */
export function defineConfig(config: ConfigDef): ConfigDef {
  return config;
}

/** Declares the infrastructure data (validated with zod when resolved for an environment). */
export function defineInfra(infra: InfraConfig): InfraConfig {
  return infra;
}

export type * from './engine/types.js';
export type { GcpTarget } from './gcp/types.js';
export type { InfraConfig, ResolvedInfra, ResolvedService } from './gcp/infra.js';
export { UserError, UsageError } from './engine/errors.js';
export { GcloudError } from './gcp/gcloud.js';
