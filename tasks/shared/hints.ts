// Next-step commands printed by tasks (summaries, hints). A pasted hint must target what the run targeted:
// the engine builds it with the run's --env, platform flags (--sandbox) and --config.
import type { TaskContext } from '../../lib/engine/types.js';
import type { TaskName } from './task-names.js';

/** What a hint needs of the run. */
export type RunTarget = Pick<TaskContext, 'commandFor'>;

/** `pnpm task TASK --env=… [--sandbox] [--config=…] [-- ARGS]`: a command that targets what this run targeted. */
export function taskCommand(target: RunTarget, task: TaskName, taskArgs: string[] = []): string {
  return target.commandFor(task, taskArgs);
}
