// Artifact Registry v1: repositories (create as an operation, get, list, patch labels/description, delete)
// and their Docker images (listed with tags). Cloud Build adds images through `putDockerImage`.
// The operations GET path is shared with GKE: container.ts serves it and renders ours with `renderRepositoryOperation`.
import { z } from 'zod';
import { repository } from '../../gcp/resources.js';
import {
  alreadyExists, invalidArgument, isRegion, notFound, ok, onOperationDone, paginate, parseBody, renderLongRunning, startOperation, timestamp, validateLabels,
  type OperationRecord,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';
import { enabledProjectId, requireApi } from './serviceusage.js';

interface DockerImage {
  /** Package (image) name inside the repository, e.g. `api-gateway`. */
  image: string;
  /** `sha256:<64 hex>` */
  digest: string;
  tags: string[];
  imageSizeBytes: string;
  uploadTime: string;
  updateTime: string;
  buildTime: string;
  mediaType: string;
}

interface Repository {
  repositoryId: string;
  location: string;
  format: string;
  mode: string;
  description?: string;
  labels?: Record<string, string>;
  createTime: string;
  updateTime: string;
  /** `image@digest` → image. */
  images: Record<string, DockerImage>;
}

export interface ArtifactRegistryState {
  /** `location/repositoryId` → repository. */
  repositories: Record<string, Repository>;
}

const API = 'artifactregistry.googleapis.com';
const FORMATS = ['DOCKER', 'MAVEN', 'NPM', 'PYTHON', 'APT', 'YUM', 'GO', 'KFP', 'GENERIC'];
const MULTI_REGIONS = ['us', 'europe', 'asia'];
const REPOSITORY_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OPERATION_METADATA = 'type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata';

/** Create and patch bodies: a repository. */
const repositoryBody = repository.partial().extend({ mode: z.string().optional(), description: z.string().optional() });

function repositoriesOf(project: ProjectState): Record<string, Repository> {
  return ((project.artifactregistry ??= { repositories: {} }).repositories ??= {});
}

const key = (location: string, repository: string) => `${location}/${repository}`;

function checkLocation(location: string): void {
  if (!isRegion(location) && !MULTI_REGIONS.includes(location)) {
    throw invalidArgument(`Invalid value for location: '${location}' is not a valid Artifact Registry location (a region such as us-central1, or us, europe, asia).`);
  }
}

export function repositoryExists(ctx: ApiContext, project: string, location: string, repository: string): boolean {
  return !!repositoriesOf(ctx.project(project))[key(location, repository)];
}

function getRepository(ctx: ApiContext, project: string, location: string, repository: string): Repository {
  const repo = repositoriesOf(ctx.project(project))[key(location, repository)];
  if (!repo) throw notFound('Requested entity was not found.');
  return repo;
}

function repositoryName(project: string, repo: Repository): string {
  return `projects/${project}/locations/${repo.location}/repositories/${repo.repositoryId}`;
}

function registryUri(project: string, repo: Repository): string {
  return `${repo.location}-${repo.format.toLowerCase()}.pkg.dev/${project}/${repo.repositoryId}`;
}

function renderRepository(project: string, repo: Repository) {
  const sizeBytes = Object.values(repo.images).reduce((sum, i) => sum + Number(i.imageSizeBytes), 0);
  return {
    name: repositoryName(project, repo),
    format: repo.format,
    ...(repo.description ? { description: repo.description } : {}),
    ...(repo.labels && Object.keys(repo.labels).length ? { labels: repo.labels } : {}),
    createTime: timestamp(repo.createTime),
    updateTime: timestamp(repo.updateTime),
    mode: repo.mode,
    ...(sizeBytes ? { sizeBytes: String(sizeBytes) } : {}),
    registryUri: registryUri(project, repo),
    satisfiesPzi: true,
  };
}

function renderImage(project: string, repo: Repository, i: DockerImage) {
  const name = `${repositoryName(project, repo)}/dockerImages/${encodeURIComponent(i.image)}@${i.digest}`;
  return {
    name,
    uri: `${registryUri(project, repo)}/${i.image}@${i.digest}`,
    ...(i.tags.length ? { tags: i.tags } : {}),
    imageSizeBytes: i.imageSizeBytes,
    uploadTime: timestamp(i.uploadTime),
    mediaType: i.mediaType,
    buildTime: timestamp(i.buildTime),
    updateTime: timestamp(i.updateTime),
  };
}

/**
 * Adds (or re-tags) a Docker image in a repository, as a push does: its tags move off any older image of the
 * same package. Throws 404 when the repository does not exist.
 */
export function putDockerImage(
  ctx: ApiContext,
  img: { project: string; location: string; repository: string; image: string; digest: string; tags: string[]; sizeBytes: number },
) {
  const projectId = ctx.project(img.project).projectId;
  const repo = getRepository(ctx, projectId, img.location, img.repository);
  if (!/^sha256:[0-9a-f]{64}$/.test(img.digest)) throw invalidArgument(`Invalid value for digest: '${img.digest}' (expected sha256:<64 hex digits>).`);
  for (const other of Object.values(repo.images)) {
    if (other.image === img.image && other.digest !== img.digest) other.tags = other.tags.filter((t) => !img.tags.includes(t));
  }
  const now = ctx.now();
  const id = `${img.image}@${img.digest}`;
  const existing = repo.images[id];
  repo.images[id] = existing
    ? { ...existing, tags: [...new Set([...existing.tags, ...img.tags])], updateTime: now }
    : { image: img.image, digest: img.digest, tags: [...new Set(img.tags)], imageSizeBytes: String(img.sizeBytes), uploadTime: now, updateTime: now, buildTime: now, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' };
  repo.updateTime = now;
  ctx.save();
  return renderImage(projectId, repo, repo.images[id]!);
}

/** Renders an Artifact Registry operation (google.longrunning.Operation) for the shared operations path. */
export function renderRepositoryOperation(op: OperationRecord) {
  return renderLongRunning(op, `projects/${op.projectId}/locations/${op.data.location}/operations/${op.id}`, OPERATION_METADATA);
}

onOperationDone('artifactregistry.repository', (ctx, op) => {
  const repo = repositoriesOf(ctx.project(op.projectId))[key(String(op.data.location), String(op.data.repositoryId))];
  if (op.data.deleted || !repo) return { response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } };
  return { response: { '@type': 'type.googleapis.com/google.devtools.artifactregistry.v1.Repository', ...renderRepository(op.projectId, repo) } };
});

function operation(ctx: ApiContext, projectId: string, location: string, repositoryId: string, latency: 'registryCreate' | 'delete', deleted = false) {
  const op = startOperation(ctx, { projectId, api: 'artifactregistry', kind: 'artifactregistry.repository', latency, data: { location, repositoryId, deleted } });
  return ok(renderRepositoryOperation(op));
}

function createRepository(req: SandboxRequest, ctx: ApiContext) {
  const { project, location } = req.params as { project: string; location: string };
  const projectId = ctx.project(project).projectId;
  requireApi(ctx, projectId, API);
  checkLocation(location);
  const body = parseBody(repositoryBody, req.json);
  const repositoryId = req.query.get('repositoryId') ?? (body.name ?? '').split('/').pop() ?? '';
  if (!REPOSITORY_ID.test(repositoryId)) {
    throw invalidArgument(`Invalid value for repository_id: '${repositoryId}' must start with a lowercase letter, contain only lowercase letters, digits and hyphens, end with a letter or digit, and be at most 63 characters.`);
  }
  const format = body.format ?? 'FORMAT_UNSPECIFIED';
  if (!FORMATS.includes(format)) throw invalidArgument(`Invalid value for format: '${format}' (one of ${FORMATS.join(', ')}).`);
  const repositories = repositoriesOf(ctx.project(projectId));
  if (repositories[key(location, repositoryId)]) throw alreadyExists('the repository already exists');
  const now = ctx.now();
  repositories[key(location, repositoryId)] = {
    repositoryId,
    location,
    format,
    mode: body.mode && body.mode !== 'MODE_UNSPECIFIED' ? body.mode : 'STANDARD_REPOSITORY',
    ...(body.description ? { description: body.description } : {}),
    ...(body.labels ? { labels: validateLabels(body.labels) } : {}),
    createTime: now,
    updateTime: now,
    images: {},
  };
  ctx.save();
  return operation(ctx, projectId, location, repositoryId, 'registryCreate');
}

function patchRepository(req: SandboxRequest, ctx: ApiContext) {
  const { project, location, repository } = req.params as Record<string, string>;
  const projectId = ctx.project(project).projectId;
  requireApi(ctx, projectId, API);
  const repo = getRepository(ctx, projectId, location, repository);
  const body = parseBody(repositoryBody, req.json);
  const mask = (req.query.get('updateMask') ?? 'labels,description').split(',').map((s) => s.trim()).filter(Boolean);
  for (const field of mask) {
    if (field === 'labels') repo.labels = body.labels ? validateLabels(body.labels) : {};
    else if (field === 'description') repo.description = body.description ?? undefined;
    else throw invalidArgument(`Invalid value for update_mask: the field '${field}' cannot be updated.`);
  }
  repo.updateTime = ctx.now();
  ctx.save();
  return ok(renderRepository(projectId, repo));
}

export const artifactregistry: ApiModule = {
  name: 'artifactregistry',
  routes: [
    { method: 'POST', path: '/v1/projects/{project}/locations/{location}/repositories', handler: createRepository },
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/repositories',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        const location = req.params.location!;
        if (location !== '-') checkLocation(location);
        const repos = Object.values(repositoriesOf(ctx.project(projectId)))
          .filter((r) => location === '-' || r.location === location)
          .sort((a, b) => a.repositoryId.localeCompare(b.repositoryId));
        const page = paginate(repos, req.query.get('pageSize'), req.query.get('pageToken'), 1000);
        return ok({ ...(page.items.length ? { repositories: page.items.map((r) => renderRepository(projectId, r)) } : {}), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
      },
    },
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/repositories/{repository}',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        return ok(renderRepository(projectId, getRepository(ctx, projectId, req.params.location!, req.params.repository!)));
      },
    },
    { method: 'PATCH', path: '/v1/projects/{project}/locations/{location}/repositories/{repository}', handler: patchRepository },
    {
      method: 'DELETE',
      path: '/v1/projects/{project}/locations/{location}/repositories/{repository}',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        const { location, repository } = req.params as Record<string, string>;
        getRepository(ctx, projectId, location, repository);
        delete repositoriesOf(ctx.project(projectId))[key(location, repository)];
        ctx.save();
        return operation(ctx, projectId, location, repository, 'delete', true);
      },
    },
    {
      method: 'GET',
      path: '/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        const repo = getRepository(ctx, projectId, req.params.location!, req.params.repository!);
        const images = Object.values(repo.images).sort((a, b) => (a.image === b.image ? b.uploadTime.localeCompare(a.uploadTime) : a.image.localeCompare(b.image)));
        const page = paginate(images, req.query.get('pageSize'), req.query.get('pageToken'), 1000);
        return ok({ ...(page.items.length ? { dockerImages: page.items.map((i) => renderImage(projectId, repo, i)) } : {}), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
      },
    },
  ],
};
