// apis:enable — every API the infrastructure needs, enabled in one gcloud call, only those not yet enabled.
import { defineTask } from '../../lib/index.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { recordReports } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { listEnabledServices } from '../shared/cloud-reads.js';

/** The required APIs that are not enabled yet (one read). */
export async function missingApis(ctx: Pick<TaskContext, 'rest' | 'project' | 'region' | 'infra'>): Promise<string[]> {
  const enabled = (await listEnabledServices(ctx)) ?? [];
  const names = new Set(enabled.map((s) => s.config?.name ?? s.name?.split('/').pop() ?? ''));
  return ctx.infra.apis.filter((api) => !names.has(api));
}

export const apisEnable = defineTask({
  name: TASK.apisEnable,
  description: 'Enable the Google Cloud APIs the infrastructure needs (one call, only those not yet enabled)',
  inputs: { config: ({ infra }) => infra.apis },
  check: async (ctx) => {
    return (await missingApis(ctx)).length === 0;
  },
  run: async (ctx) => {
    const missing = await missingApis(ctx);
    if (missing.length > 0) {
      ctx.log.info(`enabling ${missing.length} API(s): ${missing.join(', ')}`);
      await ctx.gcloud.mutate(['services', 'enable', ...missing], { json: false });
      ctx.log.success(`enabled ${missing.join(', ')}`);
    } else {
      ctx.log.info(`all ${ctx.infra.apis.length} APIs already enabled`);
    }
    const resource = `${ctx.infra.apis.length} APIs`;
    recordReports(ctx, [{ resource, state: missing.length ? 'updated' : 'unchanged', changes: missing.map((a) => `enabled ${a}`) }]);
    return { apis: ctx.infra.apis };
  },
});
