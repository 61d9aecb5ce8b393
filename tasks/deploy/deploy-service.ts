// deploy:<service> (one service, safe rollout) and deploy:all (every service, then the inter-service URLs).
//
// Inter-service URLs: a Cloud Run URL exists only once its service does, so on a fresh
// project the services deployed in parallel cannot know each other's URLs. Each deploy passes the URLs
// of the services that exist at that moment; deploy:all then compares every service's URL variables
// with the live URLs and rolls out (same safe rollout, same image) only the services whose variables are
// missing or wrong. On a fresh project that is one extra revision per service, once; afterwards URLs are
// stable and deploy:all changes nothing. This needs no guess of the URL format (the sandbox's loopback
// URLs, Google's hash or project-number URLs all work).
import { UserError } from '../../lib/engine/errors.js';
import type { InfraConfig, ResolvedInfra } from '../../lib/gcp/infra.js';
import { defineTask } from '../../lib/index.js';
import type { FingerprintContext, Json, TaskContext, TaskDef } from '../../lib/engine/types.js';
import { envPlaceholders, secretMounts } from './env-secrets.js';
import { forEachResource } from '../shared/common.js';
import { assertDeployableEnv } from './deploy-env.js';
import { peerUrlVars, rollOut, type DeployResult } from './rollout.js';
import { containerEnv, describeService, isReady, listServices, resolvedService, templateImage, type RunService } from './run-service.js';
import { TASK } from '../shared/task-names.js';

type ServiceConfig = InfraConfig['services'][number];

/** The setup tasks a service's deploy waits for, from what it needs. */
export function deployDeps(config: ServiceConfig): string[] {
  return [
    TASK.build(config.name),
    TASK.registryCreate,
    TASK.iamCreate,
    // Before any build: every ${SECRET_*} placeholder names an existing secret.
    TASK.secretsEnv,
    ...(config.needs.secrets ? [TASK.secretsCreate] : []),
    ...(config.needs.database ? [TASK.sqlCreate, TASK.sqlPassword] : []),
    ...(config.needs.storage ? [TASK.bucketsCreate] : []),
  ];
}

/** Everything in the config that changes what `gcloud run deploy` is given (the image comes in as a dependency output). */
function deploySettings(fx: FingerprintContext, key: string): Json {
  const { infra } = fx;
  const service = resolvedService(infra, key);
  return {
    service: { ...service, secrets: service.secrets.map((s) => ({ ...s })) },
    // Placeholders never reach ctx.vars: their mounts are part of what the deploy is given.
    secretMounts: secretMounts(infra, envPlaceholders(fx), service).map((m) => `${m.key}=${m.secret}`),
    serviceAccount: infra.serviceAccount.email,
    sql: { connectionName: infra.sql.connectionName, socketPath: infra.sql.socketPath, database: infra.sql.database, user: infra.sql.user },
    secrets: infra.secrets.map((s) => ({ name: s.name, envVar: s.envVar })),
    buckets: infra.buckets.map((b) => ({ name: b.name, envVar: b.envVar })),
    labels: infra.labels,
  };
}

function builtImage(ctx: Pick<TaskContext, 'deps'>, key: string): string | undefined {
  return (ctx.deps[TASK.build(key)] as { image?: string } | undefined)?.image;
}

export function deployTask(config: ServiceConfig, infra: InfraConfig): TaskDef<DeployResult & { [key: string]: string }> {
  const key = config.name;
  // The secrets' keys too: a literal secret appearing in the env file must reach the production check.
  const envKeys = [...new Set([...config.env, ...infra.secrets.map((s) => s.envVar)])];
  return defineTask({
    name: TASK.deploy(key),
    description: `Deploy ${key} to Cloud Run (pinned digest, health-checked before it takes traffic)`,
    deps: deployDeps(config),
    args: { adopt: 'redeploy an existing service of this name that lacks the tool\'s labels (it is labelled, then managed)' },
    inputs: { env: envKeys, config: (fx) => deploySettings(fx, key) },
    // With --refresh: redeploy when the live service is gone, not ready, or runs another image.
    async check(ctx) {
      const live = await describeService(ctx, resolvedService(ctx.infra, key).name);
      return live !== null && isReady(live) && templateImage(live) === builtImage(ctx, key);
    },
    preflight: assertDeployableEnv,
    async run(ctx) {
      const service = resolvedService(ctx.infra, key);
      const image = builtImage(ctx, key);
      if (!image) throw new UserError(`build:${key} produced no image.`, { hint: `Run \`pnpm task build:${key}\` and look at its log.` });
      const result = await rollOut(ctx, service, image);
      ctx.log.output(`${service.name}: ${result?.url ?? '(dry run)'}`);
      return (result ?? { service: service.name, url: '', revision: '', image }) as DeployResult & { [key: string]: string };
    },
  });
}

/** The URL variables of `service` that differ from the live URLs of the other services. */
function staleUrlVars(infra: ResolvedInfra, live: Map<string, RunService>, name: string): string[] {
  const service = infra.services.find((s) => s.name === name)!;
  const current = containerEnv(live.get(name)!);
  return Object.entries(peerUrlVars(infra, service, live)).filter(([k, v]) => current[k] !== v).map(([k]) => k);
}

export function deployAllTask(configs: ServiceConfig[]): TaskDef<{ [service: string]: { url: string; revision: string } | null }> {
  return defineTask({
    name: TASK.deployAll,
    description: 'Build and deploy every service (in parallel), then give every service the others\' URLs',
    deps: configs.map((c) => TASK.deploy(c.name)),
    // Cached like any task: it reruns when a service's deploy output changed (new revision or URL), so a
    // no-op deploy:all makes no gcloud call; --refresh re-checks that every service has its peers' live URLs.
    async check(ctx) {
      const live = await listServices(ctx);
      return ctx.infra.services.every((s) => live.has(s.name) && !staleUrlVars(ctx.infra, live, s.name).length);
    },
    async run(ctx) {
      const live = await listServices(ctx);
      const stale = ctx.infra.services.filter((s) => live.has(s.name) && staleUrlVars(ctx.infra, live, s.name).length);
      for (const s of stale) ctx.log.info(`${s.name}: ${staleUrlVars(ctx.infra, live, s.name).join(', ')} not yet set to the live URLs: rolling out a revision with them`);
      const rolled = await forEachResource(stale, (s) => s.name, (s) => rollOut(ctx, s, templateImage(live.get(s.name)!)!, live));
      const revisionOf = new Map(rolled.filter((r) => r !== undefined).map((r) => [r!.service, r!.revision]));

      const summary: { [service: string]: { url: string; revision: string } | null } = {};
      const rows = ctx.infra.services.map((s) => {
        const status = live.get(s.name)?.status;
        const revision = revisionOf.get(s.name) ?? status?.latestReadyRevisionName ?? '';
        summary[s.name] = status?.url ? { url: status.url, revision } : null;
        return [s.name, status?.url ?? 'not deployed', revision];
      });
      ctx.log.output(table([['SERVICE', 'URL', 'REVISION'], ...rows]));
      return summary;
    },
  });
}

/** Left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
}
