// `list`: every resource this tool manages for the environment, one per line on stdout,
// `type<TAB>name<TAB>location<TAB>state`, so it can be piped (`pnpm task list | cut -f2`).
// The UI stays on stderr. A type whose query did not answer makes the task fail after printing the rest:
// a pipe must not mistake an incomplete list for a complete one.
import { defineTask } from '../../lib/index.js';
import { UserError } from '../../lib/engine/errors.js';
import type { TaskContext, TaskDef } from '../../lib/engine/types.js';
import { discover, resourceTypes, typeTitles, type Discovery, type Resource } from './discover.js';
import { describeFailure } from '../shared/query.js';
import { queryDeadline, timeoutArg } from './status.js';
import { TASK } from '../shared/task-names.js';

export type ListOutput = { resources: { type: string; name: string; location: string; state: string }[]; incomplete: string[] };

export function listLines(found: Partial<Discovery>): ListOutput {
  const resources: ListOutput['resources'] = [];
  const incomplete: string[] = [];
  for (const type of resourceTypes) {
    const p = found[type];
    if (!p) continue;
    if (p.state !== 'ok') incomplete.push(`${typeTitles[type]}: ${describeFailure(p)}`);
    else
      for (const r of p.value as Resource[])
        if (r.scope === 'managed') resources.push({ type: r.type, name: r.name, location: r.location, state: r.state });
  }
  return { resources, incomplete };
}

/** Writes to stdout through the engine when it offers that, else directly (the UI is on stderr either way). */
export function writeStdout(ctx: Pick<TaskContext, 'log'>, text: string): void {
  if (ctx.log.stdout) ctx.log.stdout(text);
  else process.stdout.write(text);
}

export function listTask(): TaskDef<ListOutput> {
  return defineTask({
    name: TASK.list,
    description: 'List every resource the tool manages for this environment: type, name, region, state (tab-separated, on stdout)',
    always: true,
    args: timeoutArg,
    run: async (ctx) => {
      const found = await discover(ctx, { deadline: queryDeadline(ctx) });
      const out = listLines(found);
      if (out.resources.length) writeStdout(ctx, out.resources.map((r) => [r.type, r.name, r.location, r.state].join('\t')).join('\n') + '\n');
      ctx.log.info(`${out.resources.length} managed resource(s) in project ${ctx.project} (${ctx.env})`);
      if (out.incomplete.length)
        throw new UserError(`The list is incomplete:\n  ${out.incomplete.join('\n  ')}`, { hint: 'Run it again, or give the queries more time with -- --timeout=SECONDS.' });
      return out;
    },
  });
}
