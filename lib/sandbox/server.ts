// The sandbox HTTP server: one port on 127.0.0.1 that is both every Google API endpoint (through
// CLOUDSDK_API_ENDPOINT_OVERRIDES_*) and the HTTP proxy gcloud is given (so requests arrive in absolute form,
// `GET http://us-central1-run.sandbox:PORT/apis/… HTTP/1.1`). Routes come from the API modules; `/__sandbox/…`
// are the control endpoints (health, reset, state dump, faults, request log).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { ApiError, errorBody, settleDueOperations } from './google.js';
import { authenticate } from './auth.js';
import { FaultInjector, type FaultConfig } from './faults.js';
import { seededRandom } from './random.js';
import { Router } from './router.js';
import { StateStore } from './state.js';
import type { ApiContext, ApiModule, LatencyKind, ProjectState, SandboxRequest, SandboxResponse } from './types.js';
import { delay } from '../engine/wait.js';
import { DEFAULT_PROJECT } from './defaults.js';

/**
 * Simulated duration of each operation kind at scale 1, in ms: roughly what Google takes.
 * `read`/`write`/`delete`/`bucketCreate` hold the HTTP response; the others are the time after which a
 * long-running operation (or build, or revision) becomes done, so gcloud polls as it does against Google.
 */
export const LATENCY_MS: Record<LatencyKind, number> = {
  read: 80,
  write: 250,
  delete: 1_500,
  bucketCreate: 1_200,
  enableApi: 15_000,
  registryCreate: 6_000,
  deploy: 30_000,
  build: 90_000,
  sqlPatch: 60_000,
  sqlDelete: 90_000,
  sqlCreate: 480_000,
};
const HELD: ReadonlySet<LatencyKind> = new Set(['read', 'write', 'delete', 'bucketCreate']);

export const DEFAULT_LATENCY_SCALE = 0.01;
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

export interface ServerOptions {
  stateDir: string;
  /** A port that must be used (fails when taken). */
  port?: number;
  /**
   * A port to try first (the one of the previous start): the Cloud Run URLs the sandbox serves contain
   * its port, so keeping it keeps deployed URLs valid across runs. Falls back to any free port.
   */
  preferredPort?: number;
  latencyScale: number;
  seed: number;
  faults?: FaultConfig;
  modules: ApiModule[];
  /** Certificate for the hosts gcloud reaches with CONNECT (storage.googleapis.com: Cloud Build logs). */
  tls?: { key: string; cert: string };
}

export interface RequestLogEntry {
  time: string;
  method: string;
  host: string;
  path: string;
  status: number;
  injected?: boolean;
}

/** Deterministic 12-digit project number derived from the project id. */
export function projectNumberOf(projectId: string): string {
  const n = createHash('sha256').update(projectId).digest().readUIntBE(0, 6) % 900_000_000_000;
  return String(100_000_000_000 + n);
}

export class SandboxServer {
  readonly store: StateStore;
  readonly faults: FaultInjector;
  readonly ctx: ApiContext;
  readonly requestLog: RequestLogEntry[] = [];
  private readonly server: http.Server;
  private readonly router: Router;
  private readonly sockets = new Set<Socket>();
  /** Aborted by stop(): requests held for simulated latency end at once and change nothing. */
  private readonly stopping = new AbortController();
  private random: () => number;
  private baseUrl = '';

  constructor(private readonly opts: ServerOptions) {
    this.store = new StateStore(opts.stateDir);
    this.faults = new FaultInjector(opts.seed, opts.faults);
    this.random = this.idRandom();
    this.router = new Router(opts.modules.flatMap((m) => m.routes));
    this.ctx = this.makeContext();
    this.server = http.createServer((req, res) => {
      // A client that goes away mid-request (gcloud killed by a timeout) must not take the sandbox down.
      this.handle(req, res).catch(() => res.destroy());
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('connect', (req, socket: Socket, head) => this.tunnel(req, socket, head));
  }

  /** Ids are reproducible for a seed and a history (the sequence number moves the generator on). */
  private idRandom(): () => number {
    return seededRandom(this.opts.seed * 7919 + this.store.state.seq);
  }

  private makeContext(): ApiContext {
    const self = this;
    return {
      get state() {
        return self.store.state;
      },
      project: (id: string) => this.project(id),
      save: () => this.store.save(),
      get baseUrl() {
        return self.baseUrl;
      },
      stateDir: this.opts.stateDir,
      latency: (kind: LatencyKind) => Math.round((LATENCY_MS[kind] ?? 0) * this.opts.latencyScale),
      nextId: () => {
        this.store.state.seq += 1;
        this.store.save();
        return String(this.store.state.seq);
      },
      random: () => this.random(),
      isUnhealthy: (image: string, revision: string) => this.faults.isUnhealthy(image, revision),
      now: () => new Date().toISOString(),
    };
  }

  /**
   * The project by id or number. Only the sandbox's own project exists (created on first use) and the ones
   * already in the state: any other answers 403 "(or it may not exist)", as Google does for a project the
   * caller cannot see.
   */
  private project(idOrNumber: string): ProjectState {
    const projects = this.store.state.projects;
    if (projects[idOrNumber]) return projects[idOrNumber];
    const byNumber = Object.values(projects).find((p) => p.projectNumber === idOrNumber);
    if (byNumber) return byNumber;
    if (!PROJECT_ID.test(idOrNumber)) {
      throw new ApiError(400, `Invalid project id [${idOrNumber}]: it must be 6 to 30 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen.`);
    }
    if (idOrNumber !== DEFAULT_PROJECT) {
      throw new ApiError(403, `Permission denied on resource project ${idOrNumber} (or it may not exist).`, 'PERMISSION_DENIED', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_INVALID', domain: 'googleapis.com', metadata: { consumer: `projects/${idOrNumber}` } },
      ]);
    }
    const project: ProjectState = { projectId: idOrNumber, projectNumber: projectNumberOf(idOrNumber), createTime: new Date().toISOString() };
    projects[idOrNumber] = project;
    this.store.save();
    return project;
  }

  async start(): Promise<{ port: number; url: string }> {
    for (const m of this.opts.modules) await m.start?.(this.ctx);
    const listen = (port: number) =>
      new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, '127.0.0.1', () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    try {
      await listen(this.opts.port ?? this.opts.preferredPort ?? 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.opts.port !== undefined || !this.opts.preferredPort) throw error;
      await listen(0);
    }
    const port = (this.server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return { port, url: this.baseUrl };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    for (const m of this.opts.modules) await m.stop?.(this.ctx);
    this.store.flush();
  }

  /** Forgets all resources (modules are stopped and restarted so they drop what they run). */
  async reset(): Promise<void> {
    for (const m of this.opts.modules) await m.stop?.(this.ctx);
    this.store.reset();
    this.random = this.idRandom();
    this.requestLog.length = 0;
    for (const m of this.opts.modules) await m.start?.(this.ctx);
  }

  // ------------------------------------------------------------------------------------------ requests

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // Absolute form (`GET http://host:port/path`) when gcloud uses us as its proxy; origin form otherwise.
    const url = new URL(req.url ?? '/', /^https?:\/\//i.test(req.url ?? '') ? undefined : `http://${req.headers.host ?? '127.0.0.1'}`);
    const host = url.hostname;
    const rawPath = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    let response: SandboxResponse;
    let injected = false;
    try {
      if (rawPath.startsWith('/__sandbox/') && this.isControl(rawPath)) {
        response = await this.control(method, rawPath, body);
      } else {
        const match = this.router.match(method, host, rawPath);
        // As Google: an API request without a valid access token is refused before anything else.
        if (!match.route?.public) authenticate(this.opts.stateDir, req.headers.authorization);
        const faulty = !rawPath.startsWith('/__sandbox/') && (match.route?.faults ?? true);
        const fault = faulty ? this.faults.errorFor(method, rawPath) : null;
        const extraDelay = faulty ? this.faults.delayFor(method, rawPath) : 0;
        if (fault) {
          injected = true;
          if (extraDelay) await delay(extraDelay, this.stopping.signal);
          response = { status: fault.status, body: errorBody(fault.status, fault.message) };
        } else if (!match.route) {
          const what = match.pathKnown ? 'method' : 'request';
          response = { status: 501, body: errorBody(501, `The sandbox does not implement this ${what}: ${method} ${rawPath} (host ${host}).`) };
        } else {
          const kind = match.route.latency ?? (method === 'GET' ? 'read' : 'write');
          const held = (HELD.has(kind) ? this.ctx.latency(kind) : 0) + extraDelay;
          if (held) await delay(held, this.stopping.signal);
          if (this.stopping.signal.aborted) return void res.destroy();
          settleDueOperations(this.ctx);
          const request: SandboxRequest = {
            method,
            host,
            path: rawPath,
            query: url.searchParams,
            headers: req.headers,
            body,
            json: parseJson(req.headers['content-type'], body),
            params: match.params,
          };
          response = await match.route.handler(request, this.ctx);
        }
      }
    } catch (err) {
      response = errorResponse(err);
    }
    response = inStorageShape(rawPath, response);
    this.log({ time: new Date().toISOString(), method, host, path: rawPath, status: response.status, ...(injected ? { injected } : {}) });
    send(res, response);
  }

  private log(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > 2000) this.requestLog.splice(0, 1000);
  }

  private isControl(path: string): boolean {
    return ['/__sandbox/health', '/__sandbox/reset', '/__sandbox/state', '/__sandbox/faults', '/__sandbox/requests'].includes(path);
  }

  private async control(method: string, path: string, body: Buffer): Promise<SandboxResponse> {
    const json = () => {
      try {
        return body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        throw new ApiError(400, 'The body is not valid JSON.');
      }
    };
    switch (`${method} ${path}`) {
      case 'GET /__sandbox/health':
        return { status: 200, body: { ok: true, pid: process.pid, url: this.baseUrl, stateDir: this.opts.stateDir } };
      case 'POST /__sandbox/reset':
        await this.reset();
        return { status: 200, body: { ok: true } };
      case 'GET /__sandbox/state':
        settleDueOperations(this.ctx);
        return { status: 200, body: this.store.state };
      case 'GET /__sandbox/faults':
        return { status: 200, body: this.faults.get() };
      case 'PUT /__sandbox/faults':
      case 'POST /__sandbox/faults':
        try {
          return { status: 200, body: this.faults.set(json()) };
        } catch (err) {
          throw err instanceof ApiError ? err : new ApiError(400, (err as Error).message);
        }
      case 'GET /__sandbox/requests':
        return { status: 200, body: { requests: this.requestLog } };
      case 'DELETE /__sandbox/requests':
        this.requestLog.length = 0;
        return { status: 200, body: { ok: true } };
      default:
        return { status: 405, body: errorBody(405, `${method} is not allowed on ${path}.`, 'METHOD_NOT_ALLOWED') };
    }
  }

  /**
   * CONNECT (gcloud reaching an https:// URL through its proxy). Only the fixed Cloud Build log host needs
   * this; with a certificate we terminate TLS and serve the requests like any other, otherwise we refuse.
   */
  private tunnel(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    if (!this.opts.tls) {
      socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    const secure = new tls.TLSSocket(socket, { isServer: true, key: this.opts.tls.key, cert: this.opts.tls.cert });
    secure.on('error', () => secure.destroy());
    this.server.emit('connection', secure);
    void req;
  }
}

function parseJson(contentType: string | undefined, body: Buffer): unknown {
  if (!body.length || !contentType?.includes('json')) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'Invalid JSON payload received.');
  }
}

/**
 * The Cloud Storage JSON API answers errors without the gRPC-style `status` of the other APIs
 * (`{"error": {"code": 409, "message": …, "errors": [...]}}`), so gcloud prints `HTTPError 409: …` there.
 */
function inStorageShape(path: string, response: SandboxResponse): SandboxResponse {
  if (!/^\/(upload\/)?storage\/v1\//.test(path) || response.status < 400) return response;
  const body = response.body as { error?: { status?: string; details?: unknown } } | undefined;
  if (!body?.error || typeof body.error !== 'object') return response;
  const { status: _status, details: _details, ...error } = body.error;
  return { ...response, body: { error } };
}

function errorResponse(err: unknown): SandboxResponse {
  if (err instanceof ApiError) return { status: err.code, body: errorBody(err.code, err.message, err.status, err.details) };
  // A bug in the sandbox: say so (gcloud retries 5xx, so this is visible but slow).
  console.error('[sandbox] internal error:', err);
  return { status: 500, body: errorBody(500, `Sandbox internal error: ${(err as Error)?.message ?? String(err)}`) };
}

function send(res: http.ServerResponse, response: SandboxResponse): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: Buffer | undefined;
  if (response.body === undefined || response.status === 204) {
    payload = undefined;
  } else if (Buffer.isBuffer(response.body)) {
    payload = response.body;
  } else if (typeof response.body === 'string') {
    payload = Buffer.from(response.body);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else {
    payload = Buffer.from(JSON.stringify(response.body));
    headers['content-type'] ??= 'application/json; charset=UTF-8';
  }
  headers['content-length'] = String(payload?.length ?? 0);
  res.writeHead(response.status, headers);
  res.end(payload);
}

