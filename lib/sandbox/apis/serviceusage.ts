// Service Usage v1: enable (one or a batch), disable, get, list with `filter=state:ENABLED`, operations.
// Other modules ask `isApiEnabled` / `requireApi` so that a call to a disabled API fails like Google's
// (403 PERMISSION_DENIED, reason SERVICE_DISABLED).
import {
  apiTitle, findOperation, invalidArgument, jsonObject, notFound, ok, onOperationDone, paginate, parseBody, permissionDenied, renderLongRunning, serviceDisabled, startOperation, uuid,
  type OperationRecord,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';

/** What a new Google Cloud project has enabled before anyone enables anything. */
const ENABLED_BY_DEFAULT = [
  'bigquery.googleapis.com', 'cloudapis.googleapis.com', 'cloudtrace.googleapis.com', 'datastore.googleapis.com',
  'logging.googleapis.com', 'monitoring.googleapis.com', 'servicemanagement.googleapis.com', 'serviceusage.googleapis.com',
  'sql-component.googleapis.com', 'storage-api.googleapis.com', 'storage-component.googleapis.com', 'storage.googleapis.com',
];
/** Other services the catalog (unfiltered list) shows. */
const CATALOG = [
  'artifactregistry.googleapis.com', 'cloudbuild.googleapis.com', 'cloudresourcemanager.googleapis.com', 'compute.googleapis.com',
  'container.googleapis.com', 'iam.googleapis.com', 'run.googleapis.com', 'secretmanager.googleapis.com', 'sqladmin.googleapis.com',
];
/**
 * Services Google has (a sample of its catalog: the ones gcp-tasks and its users touch). Any other name is
 * refused as Google refuses a service that does not exist.
 */
const GOOGLE_APIS = new Set([
  'run', 'cloudbuild', 'artifactregistry', 'sqladmin', 'sql-component', 'secretmanager', 'storage', 'storage-api', 'storage-component',
  'iam', 'iamcredentials', 'cloudresourcemanager', 'serviceusage', 'logging', 'monitoring', 'container', 'compute', 'containerregistry',
  'pubsub', 'cloudscheduler', 'cloudtasks', 'cloudfunctions', 'vpcaccess', 'servicenetworking', 'dns', 'redis', 'firestore', 'datastore',
  'bigquery', 'bigquerystorage', 'cloudkms', 'cloudtrace', 'clouderrorreporting', 'cloudprofiler', 'aiplatform', 'vision', 'speech',
  'texttospeech', 'translate', 'language', 'generativelanguage', 'eventarc', 'workflows', 'appengine', 'oslogin', 'billingbudgets',
  'cloudbilling', 'serviceusage', 'identitytoolkit', 'firebase', 'networkmanagement', 'certificatemanager', 'apikeys', 'osconfig',
].map((name) => `${name}.googleapis.com`));

const isGoogleApi = (name: string) => GOOGLE_APIS.has(name);

const SERVICE_NAME = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$/;
const TYPE = 'type.googleapis.com/google.api.serviceusage.v1.';

export interface ServiceUsageState {
  /** service → ENABLED | DISABLED (absent: the default). */
  states: Record<string, 'ENABLED' | 'DISABLED'>;
}

function stateOf(project: ProjectState): ServiceUsageState {
  return (project.serviceusage ??= { states: Object.fromEntries(ENABLED_BY_DEFAULT.map((s) => [s, 'ENABLED'])) });
}

export function isApiEnabled(ctx: ApiContext, projectId: string, api: string): boolean {
  return stateOf(ctx.project(projectId)).states[api] === 'ENABLED';
}

/** Throws Google's 403 SERVICE_DISABLED when `api` is not enabled on the project. */
export function requireApi(ctx: ApiContext, projectId: string, api: string): void {
  const project = ctx.project(projectId);
  if (stateOf(project).states[api] !== 'ENABLED') throw serviceDisabled(project, api);
}

/** The id of the request's `{project}`, once `api` is known to be enabled there (a handler's first step). */
export function enabledProjectId(req: SandboxRequest, ctx: ApiContext, api: string): string {
  const projectId = ctx.project(req.params.project!).projectId;
  requireApi(ctx, projectId, api);
  return projectId;
}

function render(project: ProjectState, service: string) {
  const parent = `projects/${project.projectNumber}`;
  return { name: `${parent}/services/${service}`, parent, config: { name: service, title: apiTitle(service) }, state: stateOf(project).states[service] ?? 'DISABLED' };
}

function checkNames(services: unknown): string[] {
  if (!Array.isArray(services) || services.length === 0) throw invalidArgument('Invalid value at \'service_ids\': at least one service must be given.');
  if (services.length > 20) throw invalidArgument('Invalid value at \'service_ids\': at most 20 services can be enabled in one request.');
  const unknown = services.filter((s) => typeof s !== 'string' || !SERVICE_NAME.test(s) || !isGoogleApi(s));
  if (unknown.length) throw permissionDenied(`Not found or permission denied for service(s): ${unknown.join(', ')}.`);
  return services as string[];
}

function operation(ctx: ApiContext, projectId: string, kind: 'enable' | 'batchEnable' | 'disable', services: string[]) {
  const project = ctx.project(projectId);
  const op = startOperation(ctx, {
    projectId,
    api: 'serviceusage',
    kind: `serviceusage.${kind}`,
    latency: 'enableApi',
    id: `acf.p2-${project.projectNumber}-${uuid(ctx)}`,
    data: { services },
  });
  return ok(renderOperation(op));
}

function renderOperation(op: OperationRecord) {
  return renderLongRunning(op, `operations/${op.id}`);
}

function finish(state: 'ENABLED' | 'DISABLED', responseType: string, many: boolean) {
  return (ctx: ApiContext, op: OperationRecord) => {
    const project = ctx.project(op.projectId);
    const services = op.data.services as string[];
    for (const s of services) stateOf(project).states[s] = state;
    const rendered = services.map((s) => render(project, s));
    return { response: { '@type': `${TYPE}${responseType}`, ...(many ? { services: rendered } : { service: rendered[0] }) } };
  };
}
onOperationDone('serviceusage.enable', finish('ENABLED', 'EnableServiceResponse', false));
onOperationDone('serviceusage.batchEnable', finish('ENABLED', 'BatchEnableServicesResponse', true));
onOperationDone('serviceusage.disable', finish('DISABLED', 'DisableServiceResponse', false));

function list(req: SandboxRequest, ctx: ApiContext) {
  const project = ctx.project(req.params.project!);
  const states = stateOf(project).states;
  const filter = req.query.get('filter')?.trim();
  let wanted: string | undefined;
  if (filter) {
    const m = filter.match(/^state\s*[:=]\s*"?(ENABLED|DISABLED)"?$/i);
    if (!m) throw invalidArgument(`Invalid filter [${filter}]: only state:ENABLED and state:DISABLED are supported.`);
    wanted = m[1]!.toUpperCase();
  }
  const all = [...new Set([...ENABLED_BY_DEFAULT, ...CATALOG, ...Object.keys(states)])].sort();
  const services = all.map((s) => render(project, s)).filter((s) => !wanted || s.state === wanted);
  const page = paginate(services, req.query.get('pageSize'), req.query.get('pageToken'), 50);
  return ok(page.items.length ? { services: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
}

export const serviceusage: ApiModule = {
  name: 'serviceusage',
  routes: [
    { method: 'GET', path: '/v1/projects/{project}/services', handler: list },
    {
      method: 'POST',
      path: '/v1/projects/{project}/services:batchEnable',
      handler: (req, ctx) => operation(ctx, req.params.project!, 'batchEnable', checkNames(parseBody(jsonObject, req.json).serviceIds)),
    },
    {
      method: 'POST',
      path: '/v1/projects/{project}/services/{service}:enable',
      handler: (req, ctx) => operation(ctx, req.params.project!, 'enable', checkNames([req.params.service])),
    },
    {
      method: 'POST',
      path: '/v1/projects/{project}/services/{service}:disable',
      handler: (req, ctx) => operation(ctx, req.params.project!, 'disable', checkNames([req.params.service])),
    },
    {
      method: 'GET',
      path: '/v1/projects/{project}/services/{service}',
      handler: (req, ctx) => {
        const service = checkNames([req.params.service])[0]!;
        return ok(render(ctx.project(req.params.project!), service));
      },
    },
    {
      method: 'GET',
      path: '/v1/operations/{operation}',
      handler: (req, ctx) => {
        const op = findOperation(ctx, req.params.operation!);
        if (!op || op.api !== 'serviceusage') throw notFound(`Operation operations/${req.params.operation} not found.`);
        return ok(renderOperation(op));
      },
    },
  ],
};

/** Enables an API directly (seeding state for tests, e.g. a project that already runs a GKE cluster). */
export function enableApiNow(ctx: ApiContext, projectId: string, api: string): void {
  stateOf(ctx.project(projectId)).states[api] = 'ENABLED';
  ctx.save();
}
