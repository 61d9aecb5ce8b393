// cleanup's own progress, one line per step in a file under the state folder: what it is about to delete,
// then what became of it. A cleanup that was killed leaves the file behind, so the next one can say
// truthfully which deletions were cut short (the request may or may not have reached Google).
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TaskContext } from '../../lib/engine/types.js';

export type Step = { type: string; name: string; state: 'deleting' | 'deleted' | 'failed' };

export interface CleanupProgress {
  /** Deletions an earlier cleanup started and never saw finish (it was killed or interrupted). */
  cutShort(): Promise<Step[]>;
  note(step: Step): Promise<void>;
  /** The run reported everything it did: nothing is left to tell the next one. */
  clear(): Promise<void>;
}

export function cleanupProgress(ctx: Pick<TaskContext, 'paths' | 'project' | 'env'>): CleanupProgress {
  const file = join(ctx.paths.stateDir, 'cleanup', `${ctx.project}.${ctx.env}.jsonl`);
  return {
    async cutShort() {
      const text = await readFile(file, 'utf8').catch(() => '');
      const last = new Map<string, Step>();
      for (const line of text.split('\n').filter(Boolean)) {
        try {
          const step = JSON.parse(line) as Step;
          last.set(`${step.type} ${step.name}`, step);
        } catch {
          // A line cut short by a kill: the step before it is still known.
        }
      }
      return [...last.values()].filter((s) => s.state === 'deleting');
    },
    async note(step) {
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, `${JSON.stringify(step)}\n`);
    },
    clear: () => rm(file, { force: true }),
  };
}
