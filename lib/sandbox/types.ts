// CONTRACT between the sandbox server core (lib/sandbox/server.ts) and its API modules (lib/sandbox/apis/*.ts).
import type { IncomingMessage } from 'node:http';
import type { IamPolicy, OperationRecord } from './google.js';
import type { ArtifactRegistryState } from './apis/artifactregistry.js';
import type { CloudBuildState } from './apis/cloudbuild.js';
import type { ContainerState } from './apis/container.js';
import type { IamState } from './apis/iam.js';
import type { MonitoringState } from './apis/monitoring.js';
import type { RunState } from './apis/run.js';
import type { SecretManagerState } from './apis/secretmanager.js';
import type { ServiceUsageState } from './apis/serviceusage.js';
import type { SqlState } from './apis/sql.js';
import type { StorageState } from './apis/storage.js';

/** A parsed request as an API module sees it (absolute-form proxy requests already normalised). */
export interface SandboxRequest {
  method: string;
  /** Host header without port, e.g. `us-central1-run.sandbox` or `127.0.0.1`. */
  host: string;
  /** Path without query, e.g. `/v1/projects/demo/services:batchEnable`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Raw body bytes. */
  body: Buffer;
  /** Body parsed as JSON when the content type is JSON (else undefined); handlers read it with `parseBody`. */
  json?: unknown;
  /** Path parameters captured by the route pattern (`{project}` → params.project). */
  params: Record<string, string>;
}

export interface SandboxResponse {
  status: number;
  /** JSON-serialised unless it is a Buffer or string. */
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: SandboxRequest, ctx: ApiContext) => Promise<SandboxResponse> | SandboxResponse;

export interface Route {
  method: string;
  /**
   * Path pattern with `{name}` segments (one path segment, `:` allowed inside, e.g.
   * `/v1/projects/{project}/services/{service}:enable`) and `{name*}` for the rest of the path.
   */
  path: string;
  /** Optional host predicate (Cloud Run: regional `*-run.sandbox` vs global `run.sandbox`). */
  host?: (host: string) => boolean;
  /** Operation kind for simulated latency (see Latency in server.ts). */
  latency?: LatencyKind;
  /** false: never inject faults here (e.g. the served Cloud Run URLs, whose health is controlled by `unhealthy`). */
  faults?: boolean;
  /** true: answered without an access token (the token endpoint, Cloud Run's served URLs). */
  public?: boolean;
  handler: Handler;
}

export type LatencyKind = 'read' | 'write' | 'enableApi' | 'bucketCreate' | 'registryCreate' | 'sqlCreate' | 'sqlPatch' | 'sqlDelete' | 'build' | 'deploy' | 'delete';

/** Shared mutable state of the whole fake cloud, persisted atomically as JSON by the core. */
export interface SandboxState {
  /** projectId → project data; each API keeps its own sub-object. */
  projects: Record<string, ProjectState>;
  /** Monotonic counter for ids. */
  seq: number;
}

export interface ProjectState {
  projectId: string;
  projectNumber: string;
  createTime?: string;
  /** Long-running operations of every API, by id (google.ts). */
  operations?: Record<string, OperationRecord>;
  // Each API module owns its key.
  projects?: { policy?: IamPolicy };
  serviceusage?: ServiceUsageState;
  iam?: IamState;
  storage?: StorageState;
  artifactregistry?: ArtifactRegistryState;
  cloudbuild?: CloudBuildState;
  run?: RunState;
  sql?: SqlState;
  secretmanager?: SecretManagerState;
  monitoring?: MonitoringState;
  container?: ContainerState;
}

export interface ApiContext {
  state: SandboxState;
  /** The project: the sandbox's own (created on first use) or one in the state; any other is a 403 as on Google. */
  project(projectId: string): ProjectState;
  /** Persist the state (debounced, atomic). Call after every mutation. */
  save(): void;
  /** Base URL of the sandbox (http://127.0.0.1:PORT). */
  baseUrl: string;
  /** Folder of the state (for blobs: uploaded objects, build sources). */
  stateDir: string;
  /** Simulated duration (ms) of an operation kind, already scaled. */
  latency(kind: LatencyKind): number;
  /** Next id (`${seq}`) — deterministic. */
  nextId(): string;
  /** Seeded random source (fault injection and ids). */
  random(): number;
  /** Whether a health check of this Cloud Run revision/image should fail (fault control). */
  isUnhealthy(image: string, revision: string): boolean;
  /** Current time (ISO); overridable for tests. */
  now(): string;
}

/** Each API module exports `routes(ctx)` and optionally hooks run at start/stop (SQL servers). */
export interface ApiModule {
  name: string;
  routes: Route[];
  /** Called once after the state is loaded (e.g. restart embedded PostgreSQL servers of RUNNABLE instances). */
  start?(ctx: ApiContext): Promise<void>;
  stop?(ctx: ApiContext): Promise<void>;
}

/** Google-style error body helper type. */
export interface GoogleError {
  error: { code: number; message: string; status: string; errors?: { message: string; domain: string; reason: string }[] };
}
