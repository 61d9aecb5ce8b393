// Secret Manager v1: secrets (create with replication/labels, get, list, patch labels, delete), versions (add
// with the CRC32C checks gcloud relies on, list, get, access by number or `latest`, enable/disable/destroy)
// and the secret IAM policy (getIamPolicy is a GET here, unlike Resource Manager).
import { z } from 'zod';
import {
  alreadyExists, crc32c, failedPrecondition, invalidArgument, newPolicy, notFound, ok, paginate, parseBody, renderPolicy, setIamPolicy, timestamp, validateLabels,
  type IamPolicy,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';
import { serviceAccountExists } from './iam.js';
import { requireApi } from './serviceusage.js';

interface Version {
  number: number;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
  createTime: string;
  destroyTime?: string;
  /** base64 payload (gone once destroyed). */
  data?: string;
  clientSpecifiedPayloadChecksum: boolean;
}

interface Secret {
  id: string;
  createTime: string;
  replication: Record<string, unknown>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  versions: Version[];
  policy: IamPolicy;
}

export interface SecretManagerState {
  secrets: Record<string, Secret>;
}

const API = 'secretmanager.googleapis.com';
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const MAX_PAYLOAD = 64 * 1024;

function secretsOf(project: ProjectState): Record<string, Secret> {
  return ((project.secretmanager ??= { secrets: {} }).secrets ??= {});
}

function projectOf(req: SandboxRequest, ctx: ApiContext): ProjectState {
  const project = ctx.project(req.params.project!);
  requireApi(ctx, project.projectId, API);
  return project;
}

const secretName = (project: ProjectState, id: string) => `projects/${project.projectNumber}/secrets/${id}`;

function getSecret(project: ProjectState, id: string): Secret {
  const secret = secretsOf(project)[id];
  if (!secret) throw notFound(`Secret [${secretName(project, id)}] not found or has no versions.`);
  return secret;
}

function getVersion(project: ProjectState, secret: Secret, ref: string): Version {
  if (ref === 'latest') {
    const latest = [...secret.versions].reverse().find((v) => v.state === 'ENABLED');
    if (!latest) throw notFound(`Secret [${secretName(project, secret.id)}] not found or has no versions.`);
    return latest;
  }
  if (!/^\d+$/.test(ref)) throw invalidArgument(`Invalid value for version: '${ref}' (a version number or latest).`);
  const version = secret.versions.find((v) => v.number === Number(ref));
  if (!version) throw notFound(`Secret Version [${secretName(project, secret.id)}/versions/${ref}] not found.`);
  return version;
}

function etag(value: string) {
  return `"${Buffer.from(value).toString('hex').slice(0, 14)}"`;
}

function renderSecret(project: ProjectState, s: Secret) {
  return {
    name: secretName(project, s.id),
    replication: s.replication,
    createTime: timestamp(s.createTime),
    ...(s.labels && Object.keys(s.labels).length ? { labels: s.labels } : {}),
    etag: etag(`${s.createTime}${s.versions.length}`),
    annotations: s.annotations ?? {},
  };
}

function renderVersion(project: ProjectState, s: Secret, v: Version) {
  return {
    name: `${secretName(project, s.id)}/versions/${v.number}`,
    createTime: timestamp(v.createTime),
    ...(v.destroyTime ? { destroyTime: timestamp(v.destroyTime) } : {}),
    state: v.state,
    replicationStatus: { automatic: {} },
    etag: etag(`${v.createTime}${v.state}`),
    clientSpecifiedPayloadChecksum: v.clientSpecifiedPayloadChecksum,
  };
}

/** Create and patch bodies (`labels` are checked by validateLabels; a patch may clear annotations with null). */
const secretBody = z.looseObject({
  replication: z
    .looseObject({
      automatic: z.looseObject({}).optional(),
      userManaged: z.looseObject({ replicas: z.array(z.looseObject({ location: z.string() })).optional() }).optional(),
    })
    .optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
});
const versionBody = z.looseObject({ payload: z.looseObject({ data: z.string().optional() }).optional() });

function checkReplication(replication: z.infer<typeof secretBody>['replication']): Record<string, unknown> {
  if (replication?.automatic) return { automatic: replication.automatic };
  const replicas = replication?.userManaged?.replicas;
  if (replicas?.length) return { userManaged: { replicas } };
  throw invalidArgument('Invalid value for secret.replication: a replication policy (automatic or user-managed with at least one location) is required.');
}

function create(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const id = req.query.get('secretId') ?? '';
  if (!SECRET_ID.test(id)) throw invalidArgument(`Invalid value for secret_id: '${id}' must be 1 to 255 letters, digits, _ or -.`);
  const body = parseBody(secretBody, req.json);
  const secrets = secretsOf(project);
  if (secrets[id]) throw alreadyExists(`Secret [${secretName(project, id)}] already exists.`);
  secrets[id] = {
    id,
    createTime: ctx.now(),
    replication: checkReplication(body.replication),
    ...(body.labels ? { labels: validateLabels(body.labels) } : {}),
    ...(body.annotations ? { annotations: body.annotations } : {}),
    versions: [],
    policy: newPolicy(),
  };
  ctx.save();
  return ok(renderSecret(project, secrets[id]));
}

function patch(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const secret = getSecret(project, req.params.secret!);
  const body = parseBody(secretBody, req.json);
  const mask = req.query.get('updateMask');
  if (!mask) throw invalidArgument('Invalid value for update_mask: a field mask is required.');
  for (const field of mask.split(',')) {
    if (field === 'labels') secret.labels = body.labels ? validateLabels(body.labels) : {};
    else if (field === 'annotations') secret.annotations = body.annotations ?? {};
    else throw invalidArgument(`Invalid value for update_mask: '${field}' cannot be updated.`);
  }
  ctx.save();
  return ok(renderSecret(project, secret));
}

function addVersion(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const secret = getSecret(project, req.params.secret!);
  const { payload } = parseBody(versionBody, req.json);
  if (payload?.data === undefined) throw invalidArgument('Invalid value for payload.data: the secret payload is required.');
  const data = Buffer.from(payload.data, 'base64');
  if (data.length > MAX_PAYLOAD) throw invalidArgument(`Invalid value for payload.data: the payload is ${data.length} bytes; the limit is ${MAX_PAYLOAD}.`);
  const checksum = payload.dataCrc32c !== undefined;
  if (checksum && String(payload.dataCrc32c) !== String(crc32c(data))) {
    throw invalidArgument('Checksum mismatch: the data_crc32c of the payload does not match the CRC32C of its data (the data was corrupted in transit).');
  }
  const version: Version = { number: secret.versions.length + 1, state: 'ENABLED', createTime: ctx.now(), data: payload.data, clientSpecifiedPayloadChecksum: checksum };
  secret.versions.push(version);
  ctx.save();
  return ok(renderVersion(project, secret, version));
}

function access(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const secret = getSecret(project, req.params.secret!);
  const version = getVersion(project, secret, req.params.version!);
  const name = `${secretName(project, secret.id)}/versions/${version.number}`;
  if (version.state !== 'ENABLED') throw failedPrecondition(`Secret Version [${name}] is in ${version.state} state.`);
  const data = Buffer.from(version.data ?? '', 'base64');
  return ok({ name, payload: { data: version.data, dataCrc32c: String(crc32c(data)) } });
}

function changeState(state: 'ENABLED' | 'DISABLED' | 'DESTROYED') {
  return (req: SandboxRequest, ctx: ApiContext) => {
    const project = projectOf(req, ctx);
    const secret = getSecret(project, req.params.secret!);
    const version = getVersion(project, secret, req.params.version!);
    if (version.state === 'DESTROYED') throw failedPrecondition(`Secret Version [${secretName(project, secret.id)}/versions/${version.number}] is in DESTROYED state.`);
    version.state = state;
    if (state === 'DESTROYED') {
      delete version.data;
      version.destroyTime = ctx.now();
    }
    ctx.save();
    return ok(renderVersion(project, secret, version));
  };
}

const SECRET = '/v1/projects/{project}/secrets/{secret}';
const VERSION = `${SECRET}/versions/{version}`;

export const secretmanager: ApiModule = {
  name: 'secretmanager',
  routes: [
    { method: 'POST', path: '/v1/projects/{project}/secrets', handler: create },
    {
      method: 'GET',
      path: '/v1/projects/{project}/secrets',
      handler: (req, ctx) => {
        const project = projectOf(req, ctx);
        const all = Object.values(secretsOf(project)).sort((a, b) => a.id.localeCompare(b.id));
        const page = paginate(all, req.query.get('pageSize'), req.query.get('pageToken'), 25000);
        return ok(all.length ? { secrets: page.items.map((s) => renderSecret(project, s)), totalSize: all.length, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
      },
    },
    { method: 'GET', path: SECRET, handler: (req, ctx) => { const p = projectOf(req, ctx); return ok(renderSecret(p, getSecret(p, req.params.secret!))); } },
    { method: 'PATCH', path: SECRET, handler: patch },
    {
      method: 'DELETE',
      path: SECRET,
      handler: (req, ctx) => {
        const project = projectOf(req, ctx);
        getSecret(project, req.params.secret!);
        delete secretsOf(project)[req.params.secret!];
        ctx.save();
        return ok({});
      },
    },
    { method: 'POST', path: `${SECRET}:addVersion`, handler: addVersion },
    {
      method: 'GET',
      path: `${SECRET}/versions`,
      handler: (req, ctx) => {
        const project = projectOf(req, ctx);
        const secret = getSecret(project, req.params.secret!);
        const newestFirst = [...secret.versions].reverse();
        const size = req.query.get('pageSize');
        const page = paginate(newestFirst, size === '0' ? null : size, req.query.get('pageToken'), 25000);
        return ok(newestFirst.length ? { versions: page.items.map((v) => renderVersion(project, secret, v)), totalSize: newestFirst.length, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
      },
    },
    {
      method: 'GET',
      path: VERSION,
      handler: (req, ctx) => {
        const project = projectOf(req, ctx);
        const secret = getSecret(project, req.params.secret!);
        return ok(renderVersion(project, secret, getVersion(project, secret, req.params.version!)));
      },
    },
    { method: 'GET', path: `${VERSION}:access`, handler: access },
    { method: 'POST', path: `${VERSION}:enable`, handler: changeState('ENABLED') },
    { method: 'POST', path: `${VERSION}:disable`, handler: changeState('DISABLED') },
    { method: 'POST', path: `${VERSION}:destroy`, handler: changeState('DESTROYED') },
    {
      method: 'GET',
      path: `${SECRET}:getIamPolicy`,
      handler: (req, ctx) => ok(renderPolicy(getSecret(projectOf(req, ctx), req.params.secret!).policy)),
    },
    {
      method: 'POST',
      path: `${SECRET}:setIamPolicy`,
      handler: (req, ctx) => {
        const secret = getSecret(projectOf(req, ctx), req.params.secret!);
        secret.policy = setIamPolicy(secret.policy, req.json, (email) => serviceAccountExists(ctx, email));
        ctx.save();
        return ok(renderPolicy(secret.policy));
      },
    },
  ],
};

