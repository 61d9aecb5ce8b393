// Safe rollout of one Cloud Run revision.
//
// An existing service gets the new revision with --no-traffic under the tag `candidate`; the revision is
// health-checked at the tag's own URL and only then takes 100% of the traffic. A service's first revision
// cannot be checked before it serves, so it is checked right after. When the deploy or the check fails,
// the revisions that served before keep (or get back) exactly their traffic, the task fails naming the
// service, revision, check and log command, and no image is deleted.
import { UserError } from '../../lib/engine/errors.js';
import type { ResolvedInfra, ResolvedService } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { guardOwnership, labelsFlag } from '../shared/common.js';
import { dictFlag, serviceEnvVars } from './deploy-env.js';
import { envPlaceholders, secretMounts, secretsFlagValue } from './env-secrets.js';
import { checkHealth, describeHealth, healthHeaders } from './health.js';
import {
  describeService,
  joinUrl,
  listServices,
  logsCommand,
  peerUrl,
  runSettingsFlags,
  servingRevisions,
  tagUrl,
  templateImage,
  type RunService,
} from './run-service.js';
import { runService } from '../../lib/gcp/resources.js';

export const CANDIDATE_TAG = 'candidate';

export interface DeployResult {
  service: string;
  url: string;
  revision: string;
  image: string;
}

/**
 * The URL variables `service` gets: every other service's URL (API_GATEWAY_URL, WEBSOCKET_URL as wss://,
 * FACE_PROCESSING_URL) among those that exist in `live`.
 */
export function peerUrlVars(infra: ResolvedInfra, service: ResolvedService, live: Map<string, RunService>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const other of infra.services) {
    const url = live.get(other.name)?.status?.url;
    if (other.key !== service.key && url) vars[other.urlEnvVar] = peerUrl(other, url);
  }
  return vars;
}

/**
 * Deploys `image` (a digest reference) as a new revision of `service` and moves traffic to it once healthy.
 * `live` is the region's services as just listed (deploy:all passes its own list), else listed here:
 * one call gives both the service itself and the other services' URLs.
 */
export async function rollOut(ctx: TaskContext, service: ResolvedService, image: string, live?: Map<string, RunService>): Promise<DeployResult | undefined> {
  const services = live ?? (await listServices(ctx));
  const before = services.get(service.name) ?? null;
  // A service of this name that the tool did not deploy (made by hand, another team's) is never replaced unless adopted.
  if (before) guardOwnership(ctx, `Cloud Run service ${service.name}`, before.metadata.labels, {
    adoptInConfig: false,
    adoptingTask: `deploy:${service.key}`,
    rename: 'give the service another name in tasks.config.ts',
  });
  const env = serviceEnvVars(ctx, service, peerUrlVars(ctx.infra, service, services));
  let after: RunService | undefined | null;
  try {
    after = await ctx.gcloud.mutate(runService, deployArgs(ctx, service, image, env, before));
  } catch (error) {
    throw await failedRollout(ctx, service, before, image, `to become ready on Cloud Run: ${(error as Error).message}`);
  }
  if (ctx.dryRun) return undefined;

  // `gcloud run deploy --format=json` prints the service as deployed; read it back if it did not.
  if (!after?.status) after = await describeService(ctx, service.name);
  const revision = after?.status?.latestCreatedRevisionName ?? '(unknown revision)';
  const checkUrl = after && (before ? tagUrl(after, CANDIDATE_TAG) : after.status?.url);
  if (!checkUrl) throw await failedRollout(ctx, service, before, image, `its health check: Cloud Run reported no ${before ? `URL for the tag ${CANDIDATE_TAG}` : 'service URL'}`, revision);
  ctx.log.info(`${revision}: checking ${joinUrl(checkUrl, service.healthPath)}`);
  const check = async () => checkHealth(joinUrl(checkUrl, service.healthPath), ctx.signal, await healthHeaders(ctx, service.public));
  let health = await check();
  if (!health.ok && service.public && health.last.startsWith('403')) {
    // `gcloud run deploy --allow-unauthenticated` only warns (exit 0) when it cannot set the public-access
    // policy (a quota error, say): the service then answers 403. Set the policy now and check again.
    ctx.log.warn(`${service.name} answered 403: granting public access (roles/run.invoker to allUsers), which the deploy did not manage to set`);
    await ctx.gcloud.mutate(['run', 'services', 'add-iam-policy-binding', service.name, `--region=${ctx.region}`, '--platform=managed',
      '--member=allUsers', '--role=roles/run.invoker']);
    health = await check();
  }
  if (!health.ok) throw await failedRollout(ctx, service, before, image, `its health check: ${describeHealth(health)}`, revision);

  if (before) {
    await ctx.gcloud.mutate(['run', 'services', 'update-traffic', service.name, `--region=${ctx.region}`, '--platform=managed', '--to-latest', `--remove-tags=${CANDIDATE_TAG}`]);
  }
  const url = after!.status!.url!;
  await ctx.envFile.set({ [service.urlEnvVar]: peerUrl(service, url) });
  ctx.log.success(`${service.name}: revision ${revision} is healthy and serves 100% of traffic at ${url}`);
  if (!before) ctx.log.info(`${service.name} is new: the other services learn its URL at the end of \`pnpm task deploy:all\``);
  return { service: service.name, url, revision, image };
}

function deployArgs(ctx: TaskContext, service: ResolvedService, image: string, env: Record<string, string>, before: RunService | null): string[] {
  const { infra } = ctx;
  // A setting the service no longer needs is cleared only when the live service still has it.
  const optional = (wanted: boolean, set: string, clear: string, present: boolean) => (wanted ? [set] : present ? [clear] : []);
  const template = before?.spec?.template;
  const hasSecrets = (template?.spec?.containers?.[0]?.env ?? []).some((e) => e.valueFrom?.secretKeyRef);
  const hasCloudSql = !!template?.metadata?.annotations?.['run.googleapis.com/cloudsql-instances'];
  const mounts = secretMounts(infra, envPlaceholders(ctx), service);
  return [
    'run', 'deploy', service.name,
    `--image=${image}`,
    `--region=${ctx.region}`,
    '--platform=managed',
    `--port=${service.port}`,
    `--memory=${service.memory}`,
    `--cpu=${service.cpu}`,
    `--min-instances=${service.minInstances}`,
    `--max-instances=${service.maxInstances}`,
    `--timeout=${service.timeoutSeconds}`,
    `--service-account=${infra.serviceAccount.email}`,
    Object.keys(env).length ? `--set-env-vars=${dictFlag(env)}` : '--clear-env-vars',
    ...runSettingsFlags(service),
    ...optional(mounts.length > 0, `--set-secrets=${secretsFlagValue(mounts)}`, '--clear-secrets', hasSecrets),
    ...optional(service.needs.database, `--set-cloudsql-instances=${infra.sql.connectionName}`, '--clear-cloudsql-instances', hasCloudSql),
    service.sessionAffinity ? '--session-affinity' : '--no-session-affinity',
    service.public ? '--allow-unauthenticated' : '--no-allow-unauthenticated',
    `--labels=${labelsFlag(infra.labels)}`,
    // A revision of an existing service serves nothing until it passed its health check.
    ...(before ? ['--no-traffic', `--tag=${CANDIDATE_TAG}`] : []),
  ];
}

/**
 * Puts the traffic back where it was before the deploy (if anything moved it) and returns the error
 * that says which service and revision failed which check, and where to read its logs.
 */
async function failedRollout(ctx: TaskContext, service: ResolvedService, before: RunService | null, image: string, check: string, revision?: string): Promise<UserError> {
  const now = await describeService(ctx, service.name).catch(() => null);
  const failed = revision ?? now?.status?.latestCreatedRevisionName;
  const previous = before ? servingRevisions(before) : [];
  let traffic: string;
  if (previous.length) {
    const split = previous.map((r) => `${r.revisionName}=${r.percent}`).join(',');
    if (now && split !== servingRevisions(now).map((r) => `${r.revisionName}=${r.percent}`).join(',')) {
      await ctx.gcloud.mutate(['run', 'services', 'update-traffic', service.name, `--region=${ctx.region}`, '--platform=managed', `--to-revisions=${split}`]);
      traffic = `traffic is back on ${describeSplit(previous)}`;
    } else traffic = `traffic stays on ${describeSplit(previous)}`;
  } else {
    traffic = before ? 'the service served no traffic before' : "it is the service's first revision, so there is no earlier revision to return to";
  }
  const previousImage = before ? templateImage(before) : undefined;
  return new UserError(`${service.name}: revision ${failed ?? '(none created)'} failed ${check}; ${traffic}.`, {
    hint: [
      `What the revision logged: ${logsCommand(ctx, service.name)}`,
      before ? `The failed revision keeps the tag ${CANDIDATE_TAG} (no traffic) for inspection.` : '',
      `No image was deleted: the new one is ${image}${previousImage && previousImage !== image ? `, the previous one ${previousImage}` : ''}.`,
    ].filter(Boolean).join('\n'),
  });
}

const describeSplit = (split: { revisionName: string; percent: number }[]) => split.map((r) => `${r.revisionName} (${r.percent}%)`).join(', ');
