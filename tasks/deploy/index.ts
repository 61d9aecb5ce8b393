// Build and deploy tasks, one set per service in the infra data: build:<service>, deploy:<service>,
// rollback:<service>, plus deploy:all, urls and secrets:env (the env file's secret placeholders).
import type { InfraConfig } from '../../lib/gcp/infra.js';
import type { TaskDef } from '../../lib/engine/types.js';
import { buildTask } from '../build/index.js';
import { deployAllTask, deployTask } from './deploy-service.js';
import { secretsEnv } from './env-secrets.js';
import { rollbackTask } from './rollback.js';
import { urlsTask } from './urls.js';

export function buildDeployTasks(infra: InfraConfig): TaskDef[] {
  return [
    secretsEnv,
    ...infra.services.map(buildTask),
    ...infra.services.map((service) => deployTask(service, infra)),
    deployAllTask(infra.services),
    ...infra.services.map(rollbackTask),
    urlsTask(),
  ];
}
