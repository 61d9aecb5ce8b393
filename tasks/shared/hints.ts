// Next-step commands printed by tasks (summaries, hints). A pasted hint must target what the run
// targeted: the same --env, --sandbox and --config, or it would act on another project.
import type { EnvName, TaskContext } from '../../lib/engine/types.js';

/** The flags that chose the run's target. */
export interface RunTarget {
  env: EnvName;
  sandbox: boolean;
  /** The --config value as given, when it was not the default config. */
  config?: string;
}

/**
 * The run's target as a task sees it. `configArg` is the run's --config (when not the default); until the
 * engine hands it to tasks it is absent and hints carry --env and --sandbox only.
 */
export function runTarget(ctx: Pick<TaskContext, 'env' | 'sandbox'> & { configArg?: string }): RunTarget {
  return { env: ctx.env, sandbox: Boolean(ctx.sandbox), ...(ctx.configArg ? { config: ctx.configArg } : {}) };
}

const quoted = (word: string) => (/^[-\w.,=/:@+]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`);

/** `pnpm task TASK --env=… [--sandbox] [--config=…] [-- ARGS]`: a command that targets what this run targeted. */
export function taskCommand(target: RunTarget, task: string, taskArgs: string[] = []): string {
  const flags = [`--env=${target.env}`, ...(target.sandbox ? ['--sandbox'] : []), ...(target.config ? [`--config=${quoted(target.config)}`] : [])];
  return ['pnpm task', task, ...flags, ...(taskArgs.length ? ['--', ...taskArgs] : [])].join(' ');
}
