// Reading Cloud Run services back (the v1 Knative objects of the region's API) and the small facts the
// deploy, rollback and urls tasks take from them.
import type { ResolvedInfra, ResolvedService } from '../../lib/gcp/infra.js';
import type { TaskContext } from '../../lib/engine/types.js';
import type { Revision, RunService } from '../../lib/gcp/resources.js';
import * as reads from '../shared/cloud-reads.js';

export type { RunService, Revision };

export function describeService(ctx: TaskContext, name: string): Promise<RunService | null> {
  return reads.readRunService(ctx, name);
}

/** Every Cloud Run service of the region, by name (one call). */
export async function listServices(ctx: TaskContext): Promise<Map<string, RunService>> {
  const items = (await reads.listRunServices(ctx)) ?? [];
  return new Map(items.map((s) => [s.metadata.name, s]));
}

/** A service's revisions, newest first. */
export async function listRevisions(ctx: TaskContext, name: string): Promise<Revision[]> {
  const items = (await reads.listRevisions(ctx, name)) ?? [];
  // Revision names end in a generation counter (`api-gateway-00003-xyz`): the tie-breaker when timestamps are equal.
  const generation = (r: Revision) => Number(/-(\d+)-[a-z0-9]+$/.exec(r.metadata.name)?.[1] ?? 0);
  return items.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || generation(b) - generation(a));
}

export function isReady(resource: { status?: { conditions?: { type: string; status?: string }[] } }): boolean {
  return resource.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** The URL other services get for `service`: wss:// (ws:// on a plain-http sandbox) for websocket services. */
export function peerUrl(service: Pick<ResolvedService, 'urlScheme'>, url: string): string {
  return service.urlScheme === 'wss' ? url.replace(/^https:/, 'wss:').replace(/^http:/, 'ws:') : url;
}

/** `<url>/health` whether or not the URL ends with a slash. */
export function joinUrl(url: string, path: string): string {
  return url.replace(/\/+$/, '') + path;
}

/** Plain (non-secret) env values of the service's current template. */
export function containerEnv(service: RunService): Record<string, string> {
  const env = service.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

export function templateImage(service: RunService): string | undefined {
  return service.spec?.template?.spec?.containers?.[0]?.image;
}

/** Revisions receiving traffic now, with their share. */
export function servingRevisions(service: RunService): { revisionName: string; percent: number }[] {
  return (service.status?.traffic ?? [])
    .filter((t) => (t.percent ?? 0) > 0 && t.revisionName)
    .map((t) => ({ revisionName: t.revisionName!, percent: t.percent! }));
}

/** The URL of a traffic tag (`https://candidate---api-gateway-….run.app`). */
export function tagUrl(service: RunService, tag: string): string | undefined {
  return service.status?.traffic?.find((t) => t.tag === tag)?.url;
}

/** `100%  api-gateway-00002-abc`, one line per traffic target (tags shown too). */
export function trafficLines(service: RunService): string[] {
  return (service.status?.traffic ?? [])
    .filter((t) => (t.percent ?? 0) > 0 || t.tag)
    .map((t) => `${String(t.percent ?? 0).padStart(3)}%  ${t.revisionName ?? '(latest)'}${t.tag ? `  tag ${t.tag}: ${t.url ?? ''}` : ''}`);
}

/** The command that shows what a service's revisions logged. */
export function logsCommand(ctx: TaskContext, name: string): string {
  return `gcloud run services logs read ${name} --region=${ctx.region} --project=${ctx.project} --limit=50`;
}

/** The resolved settings of the service whose base name is `key` (task names use the base name). */
export function resolvedService(infra: ResolvedInfra, key: string): ResolvedService {
  const service = infra.services.find((s) => s.key === key);
  if (!service) throw new Error(`no service ${key} in the infra config`);
  return service;
}

/** `gcloud run deploy` flags of a service's scaling and CPU settings (concurrency only when configured). */
export function runSettingsFlags(service: ResolvedService): string[] {
  return [
    ...(service.concurrency !== undefined ? [`--concurrency=${service.concurrency}`] : []),
    service.cpuThrottling ? '--cpu-throttling' : '--no-cpu-throttling',
  ];
}
