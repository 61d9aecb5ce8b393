// Docker image references as Cloud Build and Cloud Run use them, and their lookup in the sandbox's
// Artifact Registry: `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG][@sha256:DIGEST]`.
import type { ApiContext } from './types.js';

export interface ArtifactImageRef {
  location: string;
  project: string;
  repository: string;
  /** Package name inside the repository (may contain `/`). */
  image: string;
  tag?: string;
  digest?: string;
}

const AR_REF = /^([a-z0-9-]+)-docker\.pkg\.dev\/([^/]+)\/([^/]+)\/([^:@]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/;

/** Parses an Artifact Registry Docker reference; null for any other registry (Docker Hub, gcr.io, …). */
export function parseArtifactImage(ref: string): ArtifactImageRef | null {
  const m = ref.match(AR_REF);
  if (!m) return null;
  return { location: m[1]!, project: m[2]!, repository: m[3]!, image: m[4]!, tag: m[5], digest: m[6] };
}

/** The reference without tag or digest (`…/repo/image`). */
export function imageRepository(ref: string): string {
  return ref.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[\w][\w.-]{0,127}$/, '');
}

/**
 * The digest an Artifact Registry reference points to in the sandbox (by digest, else by tag, `latest` when
 * neither is given), or null when the repository, the image or the tag does not exist.
 */
export function resolveArtifactImage(ctx: ApiContext, ref: ArtifactImageRef): string | null {
  const project = ctx.state.projects[ref.project] ?? Object.values(ctx.state.projects).find((p) => p.projectNumber === ref.project);
  const repo = project?.artifactregistry?.repositories?.[`${ref.location}/${ref.repository}`];
  if (!repo) return null;
  const images = Object.values(repo.images ?? {});
  const tag = ref.tag ?? (ref.digest ? undefined : 'latest');
  const found = images.find((i) => i.image === ref.image && (ref.digest ? i.digest === ref.digest : true) && (tag ? i.tags.includes(tag) : true));
  return found?.digest ?? null;
}
