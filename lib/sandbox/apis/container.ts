// Kubernetes Engine v1: clusters list / get / delete (a zonal operation polled until DONE). The tasks only
// clean up clusters, so clusters are created by seeding: POST /__sandbox/container/clusters.
// Also serves the operations path it shares with Artifact Registry (`…/locations/{l}/operations/{op}`).
import { z } from 'zod';
import {
  ApiError, findOperation, hexId, invalidArgument, isRegion, isZone, notFound, ok, onOperationDone, parseBody, startOperation, timestamp, validateLabels, type OperationRecord,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';
import { renderRepositoryOperation } from './artifactregistry.js';
import { enableApiNow, enabledProjectId, requireApi } from './serviceusage.js';

interface Cluster {
  name: string;
  location: string;
  status: 'RUNNING' | 'STOPPING';
  version: string;
  nodeCount: number;
  machineType: string;
  endpoint: string;
  createTime: string;
  resourceLabels?: Record<string, string>;
}

export interface ContainerState {
  /** `location/name` → cluster. */
  clusters: Record<string, Cluster>;
}

const API = 'container.googleapis.com';
const VERSION = '1.30.5-gke.1014001';

/** The test seeding body (`resourceLabels` are checked by validateLabels). */
const seedBody = z.looseObject({
  project: z.string().optional(),
  location: z.string().optional(),
  zone: z.string().optional(),
  name: z.string().optional(),
  nodeCount: z.number().optional(),
  machineType: z.string().optional(),
});

function clustersOf(project: ProjectState): Record<string, Cluster> {
  return ((project.container ??= { clusters: {} }).clusters ??= {});
}

function checkLocation(location: string): void {
  if (location !== '-' && !isZone(location) && !isRegion(location)) throw invalidArgument(`Invalid value for location: '${location}' is not a zone or region.`);
}

function renderCluster(ctx: ApiContext, projectId: string, c: Cluster) {
  return {
    name: c.name,
    location: c.location,
    zone: c.location,
    status: c.status,
    currentMasterVersion: c.version,
    currentNodeVersion: c.version,
    initialClusterVersion: c.version,
    currentNodeCount: c.nodeCount,
    endpoint: c.endpoint,
    nodePools: [{ name: 'default-pool', config: { machineType: c.machineType, diskSizeGb: 100 }, initialNodeCount: c.nodeCount, status: c.status, version: c.version }],
    selfLink: `${ctx.baseUrl}/v1/projects/${projectId}/locations/${c.location}/clusters/${c.name}`,
    createTime: timestamp(c.createTime),
    ...(c.resourceLabels ? { resourceLabels: c.resourceLabels } : {}),
  };
}

function renderOperation(ctx: ApiContext, op: OperationRecord) {
  const project = ctx.project(op.projectId);
  const base = `${ctx.baseUrl}/v1/projects/${project.projectNumber}/locations/${op.data.location}`;
  return {
    name: op.id,
    zone: op.data.location,
    operationType: op.data.type,
    status: op.done ? 'DONE' : 'RUNNING',
    selfLink: `${base}/operations/${op.id}`,
    targetLink: `${base}/clusters/${op.data.cluster}`,
    startTime: timestamp(op.createTime),
    ...(op.done && op.endTime ? { endTime: timestamp(op.endTime) } : {}),
    // gcloud reports a failed GKE operation only through statusMessage.
    ...(op.done && op.error ? { statusMessage: op.error.message, error: { code: op.error.code, message: op.error.message } } : {}),
  };
}

onOperationDone('container.deleteCluster', (ctx, op) => {
  delete clustersOf(ctx.project(op.projectId))[`${op.data.location}/${op.data.cluster}`];
});

function deleteCluster(req: SandboxRequest, ctx: ApiContext) {
  const { project, location, cluster } = req.params as Record<string, string>;
  const projectId = ctx.project(project).projectId;
  requireApi(ctx, projectId, API);
  checkLocation(location);
  const c = clustersOf(ctx.project(projectId))[`${location}/${cluster}`];
  if (!c) throw notFound(`Not found: projects/${projectId}/zones/${location}/clusters/${cluster}.`);
  if (c.status === 'STOPPING') throw new ApiError(400, `Cluster ${cluster} is already being deleted.`, 'FAILED_PRECONDITION');
  c.status = 'STOPPING';
  ctx.save();
  const op = startOperation(ctx, {
    projectId,
    api: 'container',
    kind: 'container.deleteCluster',
    latency: 'delete',
    id: `operation-${Date.now()}-${hexId(ctx, 8)}`,
    data: { location, cluster, type: 'DELETE_CLUSTER' },
  });
  return ok(renderOperation(ctx, op));
}

/** Test seeding: `POST /__sandbox/container/clusters {project, location, name, nodeCount?, machineType?, resourceLabels?}` (enables the API). */
function seedCluster(req: SandboxRequest, ctx: ApiContext) {
  const body = parseBody(seedBody, req.json);
  const projectId = ctx.project(body.project ?? '').projectId;
  const location = body.location ?? body.zone ?? '';
  checkLocation(location);
  const name = body.name ?? '';
  if (!/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) throw invalidArgument(`Invalid value for name: '${body.name}'.`);
  enableApiNow(ctx, projectId, API);
  const c: Cluster = {
    name,
    location,
    status: 'RUNNING',
    version: VERSION,
    nodeCount: body.nodeCount ?? 3,
    machineType: body.machineType ?? 'e2-medium',
    endpoint: `34.${Math.floor(ctx.random() * 255)}.${Math.floor(ctx.random() * 255)}.${Math.floor(ctx.random() * 255)}`,
    createTime: ctx.now(),
    ...(body.resourceLabels ? { resourceLabels: validateLabels(body.resourceLabels, 'resourceLabels') } : {}),
  };
  clustersOf(ctx.project(projectId))[`${location}/${c.name}`] = c;
  ctx.save();
  return ok(renderCluster(ctx, projectId, c));
}

export const container: ApiModule = {
  name: 'container',
  routes: [
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/clusters',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        const location = req.params.location!;
        checkLocation(location);
        const clusters = Object.values(clustersOf(ctx.project(projectId)))
          .filter((c) => location === '-' || c.location === location || c.location.startsWith(`${location}-`))
          .map((c) => renderCluster(ctx, projectId, c));
        return ok(clusters.length ? { clusters } : {});
      },
    },
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/clusters/{cluster}',
      handler: (req, ctx) => {
        const { project, location, cluster } = req.params as Record<string, string>;
        const projectId = ctx.project(project).projectId;
        requireApi(ctx, projectId, API);
        const c = clustersOf(ctx.project(projectId))[`${location}/${cluster}`];
        if (!c) throw notFound(`Not found: projects/${projectId}/zones/${location}/clusters/${cluster}.`);
        return ok(renderCluster(ctx, projectId, c));
      },
    },
    { method: 'DELETE', path: '/v1/projects/{project}/locations/{location}/clusters/{cluster}', handler: deleteCluster },
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/operations/{operation}',
      handler: (req, ctx) => {
        const op = findOperation(ctx, req.params.operation!, req.params.project!);
        if (op?.api === 'container') return ok(renderOperation(ctx, op));
        if (op?.api === 'artifactregistry') return ok(renderRepositoryOperation(op));
        throw notFound(`Operation ${req.params.operation} was not found.`);
      },
    },
    { method: 'POST', path: '/__sandbox/container/clusters', handler: seedCluster },
  ],
};
