// Runs every planned task's preflight check before anything else happens, and reports all the problems
// at once: one message, nothing touched. Usage problems (bad task arguments) exit 2, the rest 1.
import { UsageError, UserError } from './errors.js';
import type { PreflightContext, TaskDef } from './types.js';

export async function runPreflights(tasks: readonly TaskDef[], contextFor: (task: TaskDef) => PreflightContext): Promise<void> {
  const problems: { task: string; error: UserError }[] = [];
  for (const task of tasks) {
    if (!task.preflight) continue;
    try {
      await task.preflight(contextFor(task));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      // build:x and deploy:x may refuse for the same reason: say it once.
      if (!problems.some((p) => p.error.message === error.message)) problems.push({ task: task.name, error });
    }
  }
  if (!problems.length) return;
  if (problems.length === 1) throw problems[0]!.error;
  const message = `${problems.length} tasks refuse to start:\n${problems.map((p) => `  ${p.task}: ${p.error.message.replace(/\n/g, '\n    ')}`).join('\n')}`;
  const hint = [...new Set(problems.map((p) => p.error.hint).filter(Boolean))].join('\n');
  if (problems.every((p) => p.error instanceof UsageError)) throw new UsageError(message, hint || undefined);
  throw new UserError(message, { hint: hint || undefined });
}
