// urls every service's URL, the revision serving it and its traffic split.
import { defineTask } from '../../lib/index.js';
import type { TaskDef } from '../../lib/engine/types.js';
import { table } from './deploy-service.js';
import { listServices, servingRevisions } from './run-service.js';
import { TASK } from '../shared/task-names.js';

type UrlsOutput = { [service: string]: { url: string; revisions: string[] } | null };

export function urlsTask(): TaskDef<UrlsOutput> {
  return defineTask({
    name: TASK.urls,
    description: 'Show every service\'s URL and the revision(s) serving it',
    always: true,
    async run(ctx) {
      const live = await listServices(ctx);
      const out: UrlsOutput = {};
      const rows = ctx.infra.services.map((service) => {
        const found = live.get(service.name);
        if (!found?.status?.url) {
          out[service.name] = null;
          return [service.name, `not deployed (pnpm task deploy:${service.key})`, ''];
        }
        const serving = servingRevisions(found).map((r) => (r.percent === 100 ? r.revisionName : `${r.revisionName} ${r.percent}%`));
        out[service.name] = { url: found.status.url, revisions: serving };
        return [service.name, found.status.url, serving.join(', ')];
      });
      ctx.log.output(table([['SERVICE', 'URL', 'SERVING'], ...rows]));
      return out;
    },
  });
}
