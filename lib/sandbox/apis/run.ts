// Cloud Run Admin v1 (Knative serving API): services create/get/replace/list/delete, revisions list/get/delete,
// IAM policy; plus the services themselves, served by the sandbox.
//
// Hosts (reference §1.3, §10): the Knative paths arrive on the regional host `<region>-run.<anything>` (the
// region comes from the host), getIamPolicy/setIamPolicy on the global host `run.<anything>`.
//
// Revisions: a create or replace whose `spec.template` differs from the latest revision's creates a revision
// `SERVICE-0000N-xyz` (xyz from the seeded random source; N counts the templates). It becomes Ready after the
// simulated deploy time — or fails with Google's message when its image is not in the sandbox's Artifact
// Registry (`Image '…' not found.`); images of other registries (Docker Hub, gcr.io, Google's samples) are
// taken as they are. Traffic follows spec.traffic (see run-traffic.ts); `latestRevision` targets stay on the
// latest *ready* revision, so a failed revision never takes traffic.
//
// URLs: status.url is `<sandbox>/__run/<project>/<region>/<service>` and a tag's URL
// `<sandbox>/__run/<project>/<region>/<tag>---<service>`. Any GET/HEAD/POST under them answers, from the
// revision traffic picks (highest percent; a tag URL: its revision), 200 with JSON
// `{service, revision, image, tag, path}` — or 503 when the sandbox's faults mark that image or revision
// unhealthy. Without an `allUsers` run.invoker binding, a request without a valid identity token the sandbox
// issued (`gcloud auth print-identity-token`) gets 403, as on Google.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { runContainer, trafficTarget, type IamPolicyShape } from '../../gcp/resources.js';
import { ApiError, aborted, base64Etag, invalidArgument, isRegion, notFound, ok, parseBody, sameEtag, setIamPolicyBody, timestamp, uuid } from '../google.js';
import { parseArtifactImage, resolveArtifactImage } from '../images.js';
import { pickRevision, resolveTraffic, validateTraffic, type RevisionView, type TrafficTarget } from '../run-traffic.js';
import { identityOf } from '../auth.js';
import { requireApi } from './serviceusage.js';
import type { ApiContext, ApiModule, ProjectState, Route, SandboxRequest, SandboxResponse } from '../types.js';

const API = 'run.googleapis.com';
const KNATIVE = '/apis/serving.knative.dev/v1/namespaces/{namespace}';
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/;
const USER = 'sandbox-user@example.com';
const L = {
  service: 'serving.knative.dev/service',
  configuration: 'serving.knative.dev/configuration',
  configurationGeneration: 'serving.knative.dev/configurationGeneration',
  serviceUid: 'serving.knative.dev/serviceUid',
  route: 'serving.knative.dev/route',
  location: 'cloud.googleapis.com/location',
  creator: 'serving.knative.dev/creator',
  lastModifier: 'serving.knative.dev/lastModifier',
};

const stringMap = z.record(z.string(), z.string()).optional();
/** A revision template: what the sandbox reads of it, the rest kept as sent. */
const templateSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string().optional(), labels: stringMap, annotations: stringMap }).optional(),
  spec: z
    .looseObject({
      containers: z.array(runContainer.extend({ name: z.string().optional(), ports: z.array(z.looseObject({})).optional() })).optional(),
      serviceAccountName: z.string().optional(),
    })
    .optional(),
});
type Template = z.infer<typeof templateSchema>;
/** Create and replace bodies (`metadata.name` and `metadata.resourceVersion` are checked by the handlers). */
const serviceBody = z.looseObject({
  metadata: z.looseObject({ labels: stringMap, annotations: stringMap }).optional(),
  spec: z.looseObject({ template: templateSchema.optional(), traffic: z.array(trafficTarget).optional() }).optional(),
});
type ServiceBody = z.infer<typeof serviceBody>;
const permissionsBody = z.looseObject({ permissions: z.array(z.string()).optional() });

interface ServiceRecord {
  name: string;
  region: string;
  uid: string;
  createTime: string;
  updateTime: string;
  generation: number;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  template: Template;
  traffic: TrafficTarget[];
  /** Templates seen so far (the N of SERVICE-0000N-xyz). */
  revisionCount: number;
  latestCreatedRevisionName?: string;
}

interface RevisionRecord {
  name: string;
  service: string;
  region: string;
  uid: string;
  createTime: string;
  generation: number;
  template: Template;
  image: string;
  imageDigest: string;
  /** Epoch ms at which it is Ready (or reported failed). */
  readyAt: number;
  failure?: string;
}

export interface RunState {
  services: Record<string, ServiceRecord>;
  revisions: Record<string, RevisionRecord>;
  policies: Record<string, { bindings: NonNullable<IamPolicyShape['bindings']>; etag: string }>;
}

const runOf = (project: ProjectState): RunState => (project.run ??= { services: {}, revisions: {}, policies: {} });
const key = (region: string, name: string) => `${region}/${name}`;

const regionalHost = (host: string) => /^[a-z]+-[a-z]+\d+-run\./.test(host);
const globalHost = (host: string) => host.startsWith('run.');
const regionOfHost = (host: string) => host.slice(0, host.indexOf('-run.'));

// ------------------------------------------------------------------------------------------ validation

function bytesOf(quantity: string): number | null {
  const m = String(quantity).match(/^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/);
  if (!m) return null;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

function cpusOf(quantity: string): number | null {
  const m = String(quantity).match(/^(\d+(?:\.\d+)?)(m)?$/);
  if (!m) return null;
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

/** Memory bounds per CPU count, as Cloud Run documents them. */
function memoryBounds(cpu: number): [number, number] {
  if (cpu < 1) return [128 * 2 ** 20, 512 * 2 ** 20];
  if (cpu < 2) return [128 * 2 ** 20, 4 * 2 ** 30];
  if (cpu < 4) return [128 * 2 ** 20, 8 * 2 ** 30];
  if (cpu < 6) return [2 * 2 ** 30, 16 * 2 ** 30];
  if (cpu < 8) return [4 * 2 ** 30, 24 * 2 ** 30];
  return [4 * 2 ** 30, 32 * 2 ** 30];
}

/** Checks a template as Cloud Run does; returns the image of its first container (the one serving). */
function validateTemplate(template: Template | undefined): string {
  const spec = template?.spec;
  if (!spec?.containers?.length) throw invalidArgument('spec.template.spec.containers: at least one container is required.');
  const images = spec.containers.map((c, i) => {
    const field = `spec.template.spec.containers[${i}]`;
    if (!c.image) throw invalidArgument(`${field}.image: Required value: an image is required.`);
    const limits = c.resources?.limits ?? {};
    const cpu = limits.cpu === undefined ? 1 : cpusOf(limits.cpu);
    if (cpu === null || !(cpu >= 0.08 && cpu <= 8) || (cpu > 1 && ![2, 4, 6, 8].includes(cpu))) {
      throw invalidArgument(`${field}.resources.limits.cpu: Invalid value specified for cpu '${limits.cpu}': use a value from 0.08 to 1, or 2, 4, 6 or 8.`);
    }
    if (limits.memory !== undefined) {
      const memory = bytesOf(limits.memory);
      const [min, max] = memoryBounds(cpu);
      if (memory === null) throw invalidArgument(`${field}.resources.limits.memory: Invalid value specified for memory '${limits.memory}' (e.g. 512Mi or 2Gi).`);
      if (memory < min || memory > max) {
        throw invalidArgument(`${field}.resources.limits.memory: Invalid value specified for container memory. For ${cpu.toFixed(1)} CPU, memory must be between ${human(min)} and ${human(max)} inclusive.`);
      }
    }
    for (const p of c.ports ?? []) {
      const port = p.containerPort;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`${field}.ports.containerPort: must be between 1 and 65535.`);
    }
    return c.image;
  });
  if (spec.timeoutSeconds !== undefined && !(Number.isInteger(Number(spec.timeoutSeconds)) && Number(spec.timeoutSeconds) >= 1 && Number(spec.timeoutSeconds) <= 3600)) {
    throw invalidArgument('spec.template.spec.timeoutSeconds: Invalid value specified for timeout: it must be between 1 and 3600 seconds.');
  }
  if (spec.containerConcurrency !== undefined && !(Number(spec.containerConcurrency) >= 0 && Number(spec.containerConcurrency) <= 1000)) {
    throw invalidArgument('spec.template.spec.containerConcurrency: must be between 0 and 1000.');
  }
  const annotations = template?.metadata?.annotations ?? {};
  const min = Number(annotations['autoscaling.knative.dev/minScale'] ?? 0);
  const max = Number(annotations['autoscaling.knative.dev/maxScale'] ?? 100);
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < 1 || min > max) {
    throw invalidArgument(`spec.template.metadata.annotations[autoscaling.knative.dev/maxScale]: the maximum number of instances (${max}) must be at least 1 and at least the minimum (${min}).`);
  }
  return images[0];
}

const human = (bytes: number) => (bytes >= 2 ** 30 ? `${bytes / 2 ** 30}Gi` : `${bytes / 2 ** 20}Mi`);

/** The template as Google stores it: defaults filled in (so a re-sent template compares equal). */
function normaliseTemplate(project: ProjectState, template: Template | undefined): Template {
  const spec = template?.spec ?? {};
  return {
    ...template,
    spec: {
      ...spec,
      containerConcurrency: spec.containerConcurrency ?? 80,
      timeoutSeconds: spec.timeoutSeconds ?? 300,
      serviceAccountName: spec.serviceAccountName ?? `${project.projectNumber}-compute@developer.gserviceaccount.com`,
      containers: (spec.containers ?? []).map((c, i) => ({
        ...c,
        name: c.name || (i === 0 ? '' : `container-${i}`),
        ...(i === 0 ? { ports: c.ports?.length ? c.ports.map((p) => ({ name: p.name ?? 'http1', ...p })) : [{ name: 'http1', containerPort: 8080 }] } : {}),
        resources: { ...(c.resources ?? {}), limits: { cpu: '1000m', memory: '512Mi', ...(c.resources?.limits ?? {}) } },
      })),
    },
    metadata: template?.metadata ?? {},
  };
}

// ---------------------------------------------------------------------------------------------- views

function revisionsOf(run: RunState, svc: ServiceRecord): RevisionRecord[] {
  return Object.values(run.revisions)
    .filter((r) => r.region === svc.region && r.service === svc.name)
    .sort((a, b) => a.generation - b.generation);
}

function viewOf(rev: RevisionRecord, now = Date.now()): RevisionView {
  if (now < rev.readyAt) return { name: rev.name, generation: rev.generation, state: 'pending' };
  return rev.failure ? { name: rev.name, generation: rev.generation, state: 'failed', message: rev.failure } : { name: rev.name, generation: rev.generation, state: 'ready' };
}

const serviceUrl = (ctx: ApiContext, project: ProjectState, region: string, host: string) => `${ctx.baseUrl}/__run/${project.projectId}/${region}/${host}`;

interface ServiceStatus {
  conditions: { type: string; status: string; message?: string; reason?: string; lastTransitionTime: string }[];
  latestReadyRevisionName?: string;
  latestCreatedRevisionName?: string;
  traffic: TrafficTarget[];
  views: Map<string, RevisionView>;
}

function statusOf(ctx: ApiContext, project: ProjectState, svc: ServiceRecord): ServiceStatus {
  const run = runOf(project);
  const revisions = revisionsOf(run, svc);
  const views = new Map(revisions.map((r) => [r.name, viewOf(r)]));
  const latestReady = [...revisions].reverse().find((r) => views.get(r.name)!.state === 'ready')?.name;
  const latestCreated = svc.latestCreatedRevisionName ? views.get(svc.latestCreatedRevisionName) : undefined;
  const routes = resolveTraffic(svc.traffic, views, latestReady, (tag) => serviceUrl(ctx, project, svc.region, `${tag}---${svc.name}`));
  const time = timestamp(svc.updateTime);
  const configuration =
    !latestCreated || latestCreated.state === 'pending'
      ? { status: 'Unknown' }
      : latestCreated.state === 'failed'
        ? { status: 'False', reason: 'RevisionFailed', message: `Revision '${latestCreated.name}' is not ready and cannot serve traffic. ${latestCreated.message}` }
        : { status: 'True' };
  const route = routes.status === 'False' ? { status: 'False', reason: 'RevisionFailed', message: routes.message } : { status: routes.status };
  const ready = configuration.status === 'False' ? configuration : route.status === 'False' ? route : configuration.status === 'Unknown' || route.status === 'Unknown' ? { status: 'Unknown' } : { status: 'True' };
  return {
    conditions: [
      { type: 'Ready', ...ready, lastTransitionTime: time },
      { type: 'ConfigurationsReady', ...configuration, lastTransitionTime: time },
      { type: 'RoutesReady', ...route, lastTransitionTime: time },
    ],
    latestReadyRevisionName: latestReady,
    latestCreatedRevisionName: svc.latestCreatedRevisionName,
    traffic: routes.targets,
    views,
  };
}

function renderService(ctx: ApiContext, project: ProjectState, svc: ServiceRecord) {
  const status = statusOf(ctx, project, svc);
  const url = serviceUrl(ctx, project, svc.region, svc.name);
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: {
      name: svc.name,
      namespace: project.projectNumber,
      selfLink: `/apis/serving.knative.dev/v1/namespaces/${project.projectNumber}/services/${svc.name}`,
      uid: svc.uid,
      resourceVersion: svc.resourceVersion,
      generation: svc.generation,
      creationTimestamp: timestamp(svc.createTime),
      labels: { ...svc.labels, [L.location]: svc.region },
      annotations: { ...svc.annotations, [L.creator]: USER, [L.lastModifier]: USER, 'run.googleapis.com/ingress': svc.annotations['run.googleapis.com/ingress'] ?? 'all', 'run.googleapis.com/ingress-status': svc.annotations['run.googleapis.com/ingress'] ?? 'all', 'run.googleapis.com/urls': JSON.stringify([url]) },
    },
    spec: { template: svc.template, traffic: svc.traffic },
    status: {
      observedGeneration: svc.generation,
      conditions: status.conditions,
      ...(status.latestReadyRevisionName ? { latestReadyRevisionName: status.latestReadyRevisionName } : {}),
      ...(status.latestCreatedRevisionName ? { latestCreatedRevisionName: status.latestCreatedRevisionName } : {}),
      traffic: status.traffic,
      url,
      address: { url },
    },
  };
}

function renderRevision(ctx: ApiContext, project: ProjectState, rev: RevisionRecord) {
  const run = runOf(project);
  const svc = run.services[key(rev.region, rev.service)];
  const view = viewOf(rev);
  const serving = svc ? statusOf(ctx, project, svc).traffic.some((t) => t.revisionName === rev.name && ((t.percent ?? 0) > 0 || t.tag)) : false;
  const time = timestamp(rev.createTime);
  const ready = view.state === 'ready' ? 'True' : view.state === 'pending' ? 'Unknown' : 'False';
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: {
      name: rev.name,
      namespace: project.projectNumber,
      selfLink: `/apis/serving.knative.dev/v1/namespaces/${project.projectNumber}/revisions/${rev.name}`,
      uid: rev.uid,
      resourceVersion: base64Etag(rev.uid).replace(/=+$/, ''),
      generation: 1,
      creationTimestamp: time,
      labels: {
        [L.route]: rev.service,
        [L.configuration]: rev.service,
        [L.configurationGeneration]: String(rev.generation),
        [L.service]: rev.service,
        [L.serviceUid]: svc?.uid ?? '',
        [L.location]: rev.region,
        ...(rev.template.metadata?.labels ?? {}),
      },
      annotations: { ...(rev.template.metadata?.annotations ?? {}), [L.creator]: USER },
      ownerReferences: [{ kind: 'Configuration', name: rev.service, uid: svc?.uid ?? '', apiVersion: 'serving.knative.dev/v1', controller: true, blockOwnerDeletion: true }],
    },
    spec: rev.template.spec,
    status: {
      observedGeneration: 1,
      conditions: [
        { type: 'Ready', status: ready, ...(view.state === 'failed' ? { reason: 'ContainerMissing', message: view.message } : {}), lastTransitionTime: time },
        { type: 'Active', status: serving && view.state === 'ready' ? 'True' : 'False', lastTransitionTime: time, severity: 'Info' },
        { type: 'ContainerHealthy', status: ready, lastTransitionTime: time },
        { type: 'ResourcesAvailable', status: ready, lastTransitionTime: time },
      ],
      logUrl: `https://console.cloud.google.com/logs/viewer?project=${project.projectId}&resource=cloud_run_revision/service_name/${rev.service}/revision_name/${rev.name}`,
      imageDigest: rev.imageDigest,
      containerStatuses: [{ name: rev.template.spec?.containers?.[0]?.name ?? '', imageDigest: rev.imageDigest }],
    },
  };
}

// -------------------------------------------------------------------------------------------- handlers

function projectOf(req: SandboxRequest, ctx: ApiContext): ProjectState {
  const project = ctx.project(req.params.namespace ?? req.params.project!);
  requireApi(ctx, project.projectId, API);
  return project;
}

function regionOf(req: SandboxRequest): string {
  const region = req.params.location ?? regionOfHost(req.host);
  if (!isRegion(region)) throw invalidArgument(`Invalid location '${region}': not a Cloud Run region.`);
  return region;
}

const missing = (name: string, region: string, projectId: string) =>
  notFound(`Resource '${name}' of kind 'SERVICE' in region '${region}' in project '${projectId}' does not exist.`);

function getService(project: ProjectState, region: string, name: string): ServiceRecord {
  const svc = runOf(project).services[key(region, name)];
  if (!svc) throw missing(name, region, project.projectId);
  return svc;
}

/** A random-looking three-letter revision suffix from the seeded random source. */
function suffix(ctx: ApiContext): string {
  let s = '';
  for (let i = 0; i < 3; i++) s += String.fromCharCode(97 + Math.floor(ctx.random() * 26));
  return s;
}

/** Image digest in the sandbox's registry, or the failure message of a revision using it. */
function resolveImage(ctx: ApiContext, image: string): { digest: string } | { failure: string } {
  const ref = parseArtifactImage(image);
  // Google's public samples (us-docker.pkg.dev/cloudrun/…) and other registries are taken as they are.
  if (!ref || ref.project === 'cloudrun') return { digest: ref?.digest ?? `sha256:${createHash('sha256').update(image).digest('hex')}` };
  const digest = resolveArtifactImage(ctx, ref);
  return digest ? { digest } : { failure: `Image '${image}' not found.` };
}

/** Applies a create/replace body: new revision when the template changed, traffic, labels, bumps. */
function applySpec(ctx: ApiContext, project: ProjectState, svc: ServiceRecord, body: ServiceBody): void {
  const run = runOf(project);
  const image = validateTemplate(body.spec?.template);
  const template = normaliseTemplate(project, body.spec?.template);
  const previous = svc.latestCreatedRevisionName ? run.revisions[key(svc.region, svc.latestCreatedRevisionName)] : undefined;
  const templateChanged = !previous || JSON.stringify(previous.template) !== JSON.stringify(template);
  const wantedName = template.metadata?.name;
  if (wantedName !== undefined && !wantedName.startsWith(`${svc.name}-`)) {
    throw invalidArgument(`spec.template.metadata.name: the revision name '${wantedName}' must start with the service name followed by '-' (${svc.name}-…).`);
  }
  let newRevision: RevisionRecord | undefined;
  if (templateChanged) {
    if (wantedName && run.revisions[key(svc.region, wantedName)]) throw new ApiError(409, `Revision named '${wantedName}' with different configuration already exists.`, 'ALREADY_EXISTS');
    const generation = svc.revisionCount + 1;
    const name = wantedName ?? `${svc.name}-${String(generation).padStart(5, '0')}-${suffix(ctx)}`;
    const resolved = resolveImage(ctx, image);
    newRevision = {
      name,
      service: svc.name,
      region: svc.region,
      uid: uuid(ctx),
      createTime: ctx.now(),
      generation,
      template,
      image,
      imageDigest: 'digest' in resolved ? resolved.digest : '',
      readyAt: Date.now() + ctx.latency('deploy'),
      ...('failure' in resolved ? { failure: resolved.failure } : {}),
    };
  }
  const traffic: TrafficTarget[] = body.spec?.traffic?.length ? body.spec.traffic : [{ percent: 100, latestRevision: true }];
  const known = new Set(revisionsOf(run, svc).map((r) => r.name));
  if (newRevision) known.add(newRevision.name);
  const problem = validateTraffic(traffic, known);
  if (problem) throw invalidArgument(problem);

  if (newRevision) {
    run.revisions[key(svc.region, newRevision.name)] = newRevision;
    svc.revisionCount = newRevision.generation;
    svc.latestCreatedRevisionName = newRevision.name;
  }
  const trafficClean = traffic.map((t) => ({ ...(t.revisionName ? { revisionName: t.revisionName } : {}), ...(t.latestRevision ? { latestRevision: true } : {}), ...(t.percent ? { percent: t.percent } : {}), ...(t.tag ? { tag: t.tag } : {}) }));
  const specChanged = templateChanged || JSON.stringify(trafficClean) !== JSON.stringify(svc.traffic);
  svc.template = template;
  svc.traffic = trafficClean;
  const userLabels = { ...(body.metadata?.labels ?? {}) };
  delete userLabels[L.location];
  svc.labels = userLabels;
  const annotations = { ...(body.metadata?.annotations ?? {}) };
  for (const k of [L.creator, L.lastModifier, 'run.googleapis.com/urls']) delete annotations[k];
  svc.annotations = annotations;
  if (specChanged) svc.generation += 1;
  svc.resourceVersion = base64Etag(`${svc.uid}/${svc.generation}/${ctx.random()}`).replace(/=+$/, '');
  svc.updateTime = ctx.now();
}

function createService(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  const body = parseBody(serviceBody, req.json);
  const name = body.metadata?.name;
  if (typeof name !== 'string' || !SERVICE_NAME.test(name)) {
    throw invalidArgument(`metadata.name: Invalid value '${name ?? ''}': a service name must start with a letter, contain only lowercase letters, digits and hyphens, not end with a hyphen, and be at most 49 characters.`);
  }
  const run = runOf(project);
  if (run.services[key(region, name)]) throw new ApiError(409, `Resource '${name}' already exists.`);
  const now = ctx.now();
  const svc: ServiceRecord = { name, region, uid: uuid(ctx), createTime: now, updateTime: now, generation: 0, resourceVersion: '', labels: {}, annotations: {}, template: {}, traffic: [], revisionCount: 0 };
  applySpec(ctx, project, svc, body);
  run.services[key(region, name)] = svc;
  ctx.save();
  return ok(renderService(ctx, project, svc));
}

function replaceService(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  const svc = getService(project, region, req.params.service!);
  const body = parseBody(serviceBody, req.json);
  if (body.metadata?.name !== undefined && body.metadata.name !== svc.name) throw invalidArgument(`metadata.name: '${body.metadata.name}' does not match the service in the path (${svc.name}).`);
  const version = body.metadata?.resourceVersion;
  if (version !== undefined && version !== svc.resourceVersion) {
    throw aborted(`the object has been modified; please apply your changes to the latest version and try again (resourceVersion ${version} is not the current ${svc.resourceVersion}).`);
  }
  applySpec(ctx, project, svc, body);
  ctx.save();
  return ok(renderService(ctx, project, svc));
}

function deleteService(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  const svc = getService(project, region, req.params.service!);
  const run = runOf(project);
  for (const rev of revisionsOf(run, svc)) delete run.revisions[key(region, rev.name)];
  delete run.services[key(region, svc.name)];
  delete run.policies[key(region, svc.name)];
  ctx.save();
  return ok({ status: 'Success', details: { name: svc.name, kind: 'services', uid: svc.uid } });
}

/** `key = value`, `key=value`, `key==value`, comma-separated. */
function labelSelector(selector: string | null): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => {
    const m = t.trim().match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/);
    if (!m) throw invalidArgument(`Invalid labelSelector '${selector}': expected key = value terms.`);
    return { key: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (labels) => terms.every((t) => (labels[t.key] === t.value) !== t.negate);
}

function listServices(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionalHost(req.host) ? regionOf(req) : undefined;
  const matches = labelSelector(req.query.get('labelSelector'));
  const items = Object.values(runOf(project).services)
    .filter((s) => !region || s.region === region)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => renderService(ctx, project, s))
    .filter((s) => matches(s.metadata.labels));
  return ok({ apiVersion: 'serving.knative.dev/v1', kind: 'ServiceList', metadata: {}, items });
}

function listRevisions(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionalHost(req.host) ? regionOf(req) : undefined;
  const matches = labelSelector(req.query.get('labelSelector'));
  const items = Object.values(runOf(project).revisions)
    .filter((r) => !region || r.region === region)
    .sort((a, b) => a.service.localeCompare(b.service) || b.generation - a.generation)
    .map((r) => renderRevision(ctx, project, r))
    .filter((r) => matches(r.metadata.labels));
  return ok({ apiVersion: 'serving.knative.dev/v1', kind: 'RevisionList', metadata: {}, items });
}

function getRevisionRecord(project: ProjectState, region: string, name: string): RevisionRecord {
  const rev = runOf(project).revisions[key(region, name)];
  if (!rev) throw notFound(`Resource '${name}' of kind 'REVISION' in region '${region}' in project '${project.projectId}' does not exist.`);
  return rev;
}

function deleteRevision(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  const rev = getRevisionRecord(project, region, req.params.revision!);
  const run = runOf(project);
  const svc = run.services[key(region, rev.service)];
  if (svc) {
    const status = statusOf(ctx, project, svc);
    if (svc.latestCreatedRevisionName === rev.name || status.traffic.some((t) => t.revisionName === rev.name)) {
      throw new ApiError(400, `Revision '${rev.name}' cannot be deleted: it is the latest revision of service '${svc.name}' or is referenced by its traffic.`, 'FAILED_PRECONDITION');
    }
  }
  delete run.revisions[key(region, rev.name)];
  ctx.save();
  return ok({ status: 'Success', details: { name: rev.name, kind: 'revisions', uid: rev.uid } });
}

// ------------------------------------------------------------------------------------------------- IAM

function policyOf(project: ProjectState, region: string, name: string) {
  return (runOf(project).policies[key(region, name)] ??= { bindings: [], etag: 'ACAB' });
}

function getIamPolicy(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  getService(project, region, req.params.service!);
  const policy = policyOf(project, region, req.params.service!);
  return ok({ version: 1, ...(policy.bindings.length ? { bindings: policy.bindings } : {}), etag: policy.etag });
}

function setIamPolicy(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const region = regionOf(req);
  getService(project, region, req.params.service!);
  const policy = policyOf(project, region, req.params.service!);
  const next = parseBody(setIamPolicyBody, req.json).policy;
  if (!next) throw invalidArgument('policy: Required value.');
  if (next.etag !== undefined && !sameEtag(next.etag, policy.etag)) {
    throw aborted('There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
  }
  const bindings = (next.bindings ?? []).filter((b) => b.members?.length);
  for (const b of bindings) {
    if (!b.role.startsWith('roles/')) throw invalidArgument(`policy.bindings.role: Invalid role '${b.role}'.`);
  }
  policy.bindings = bindings;
  policy.etag = base64Etag({ bindings, n: ctx.random() });
  ctx.save();
  return ok({ version: 1, ...(bindings.length ? { bindings } : {}), etag: policy.etag });
}

function testIamPermissions(req: SandboxRequest, ctx: ApiContext) {
  projectOf(req, ctx);
  const permissions = parseBody(permissionsBody, req.json).permissions ?? [];
  return ok(permissions.length ? { permissions } : {});
}

// ------------------------------------------------------------------------------------ serving the URLs

function serve(req: SandboxRequest, ctx: ApiContext): SandboxResponse {
  const project = ctx.state.projects[req.params.project!];
  const host = req.params.host!;
  const [tag, name] = host.includes('---') ? (host.split('---', 2) as [string, string]) : [undefined, host];
  const region = req.params.region!;
  const svc = project ? runOf(project).services[key(region, name)] : undefined;
  if (!project || !svc) return { status: 404, body: `Error: Page not found\nThe requested URL ${req.path} was not found on this server.\n` };
  const invokers = policyOf(project, region, name).bindings.find((b) => b.role === 'roles/run.invoker')?.members ?? [];
  // A private service answers a caller with a valid identity token (`gcloud auth print-identity-token`).
  const caller = identityOf(ctx.stateDir, req.headers.authorization);
  if (!invokers.includes('allUsers') && !caller) {
    return { status: 403, body: `Error: Forbidden\nYour client does not have permission to get URL ${req.path} from this server.\n` };
  }
  const status = statusOf(ctx, project, svc);
  const revisionName = pickRevision(status.traffic, status.views, tag);
  if (!revisionName) return { status: tag ? 404 : 503, body: tag ? `Error: Page not found (no revision has the tag '${tag}')\n` : 'Service Unavailable\n' };
  const revision = runOf(project).revisions[key(region, revisionName)]!;
  const path = `/${req.params.rest ?? ''}`;
  const answer = { service: name, revision: revision.name, image: revision.image, ...(tag ? { tag } : {}), path };
  if (ctx.isUnhealthy(revision.image, revision.name)) return { status: 503, body: { error: 'unhealthy (sandbox fault)', ...answer } };
  return { status: 200, body: answer };
}

// ------------------------------------------------------------------------------------------ the module

const regional = (method: string, path: string, handler: Route['handler']): Route => ({ method, path, host: regionalHost, handler });
const servePaths = ['/__run/{project}/{region}/{host}', '/__run/{project}/{region}/{host}/', '/__run/{project}/{region}/{host}/{rest*}'];

export const run: ApiModule = {
  name: 'run',
  routes: [
    regional('POST', `${KNATIVE}/services`, createService),
    regional('GET', `${KNATIVE}/services`, listServices),
    { method: 'GET', path: `${KNATIVE}/services`, host: globalHost, handler: listServices },
    regional('GET', `${KNATIVE}/services/{service}`, (req, ctx) => {
      const project = projectOf(req, ctx);
      return ok(renderService(ctx, project, getService(project, regionOf(req), req.params.service!)));
    }),
    regional('PUT', `${KNATIVE}/services/{service}`, replaceService),
    { ...regional('DELETE', `${KNATIVE}/services/{service}`, deleteService), latency: 'delete' },
    regional('GET', `${KNATIVE}/revisions`, listRevisions),
    { method: 'GET', path: `${KNATIVE}/revisions`, host: globalHost, handler: listRevisions },
    regional('GET', `${KNATIVE}/revisions/{revision}`, (req, ctx) => {
      const project = projectOf(req, ctx);
      return ok(renderRevision(ctx, project, getRevisionRecord(project, regionOf(req), req.params.revision!)));
    }),
    regional('DELETE', `${KNATIVE}/revisions/{revision}`, deleteRevision),
    ...[globalHost, regionalHost].flatMap((host) => [
      { method: 'GET', path: '/v1/projects/{project}/locations/{location}/services/{service}:getIamPolicy', host, handler: getIamPolicy },
      { method: 'POST', path: '/v1/projects/{project}/locations/{location}/services/{service}:setIamPolicy', host, handler: setIamPolicy },
      { method: 'POST', path: '/v1/projects/{project}/locations/{location}/services/{service}:testIamPermissions', host, handler: testIamPermissions },
    ]),
    ...servePaths.flatMap((path) => ['GET', 'HEAD', 'POST'].map((method): Route => ({ method, path, handler: serve, faults: false, public: true }))),
  ],
};
