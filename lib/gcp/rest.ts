// The read-only side of Google Cloud without a Python process per query: status, list, cost, cleanup's
// discovery and the --refresh checks ask the REST APIs directly. One access token per run (the one gcloud holds
// for the active account while it is fresh, else gcloud's `auth print-access-token`: the user's or the sandbox's
// configuration decides either way), one keep-alive connection pool, the endpoints and
// proxy of the same gcloud configuration the wrapper uses, pagination, retries of 429/5xx with backoff, and
// Google's error bodies turned into the wrapper's error kinds. Mutations stay gcloud commands.
import * as fs from 'node:fs';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { redact, registerSecret } from '../engine/redact.js';
import type { Logger } from '../engine/types.js';
import { delay } from '../engine/wait.js';
import { GcloudError, type Gcloud, type GcloudErrorKind } from './gcloud.js';
import { cachedAccessToken, gcloudProperty } from './gcloud-files.js';

const truthy = (v: string | undefined) => /^(1|true|yes|on)$/i.test(v ?? '');

// ---------------------------------------------------------------- endpoints

/** The APIs read here: gcloud's override name, Google's host, and the base path gcloud appends to a root override. */
const APIS = {
  serviceusage: { host: 'serviceusage.googleapis.com', base: '' },
  cloudresourcemanager: { host: 'cloudresourcemanager.googleapis.com', base: '' },
  iam: { host: 'iam.googleapis.com', base: '' },
  secretmanager: { host: 'secretmanager.googleapis.com', base: '' },
  artifactregistry: { host: 'artifactregistry.googleapis.com', base: '' },
  sql: { host: 'sqladmin.googleapis.com', base: '' },
  storage: { host: 'storage.googleapis.com', base: 'storage/v1/' },
  container: { host: 'container.googleapis.com', base: '' },
  monitoring: { host: 'monitoring.googleapis.com', base: '' },
  run: { host: 'run.googleapis.com', base: '' },
  cloudbuild: { host: 'cloudbuild.googleapis.com', base: '' },
} as const;

export type RestApi = keyof typeof APIS;

/**
 * The base URL of an API, ending in `/`: the configuration's override (a root override gets the API's base
 * path, any other path is used as it is, as gcloud does), else Google's endpoint. Cloud Run's Knative API
 * lives on the regional host `<region>-<host>`, derived from either.
 */
export function endpointOf(env: Readonly<Record<string, string | undefined>>, api: RestApi, region?: string): string {
  const { host, base } = APIS[api];
  const override = gcloudProperty(env, 'api_endpoint_overrides', api);
  let url = override ? (new URL(override).pathname === '/' ? `${override}${base}` : override) : `https://${host}/${base}`;
  if (region) {
    const u = new URL(url);
    u.hostname = `${region}-${u.hostname}`;
    url = u.toString();
  }
  return url.endsWith('/') ? url : `${url}/`;
}

// ---------------------------------------------------------------- errors

/** Google's error body: `{"error": {"code", "message", "status", "details": [{"reason"}]}}`. */
function toRestError(status: number, bodyText: string, command: string, project: string): GcloudError {
  let message = `HTTP ${status}`;
  let googleStatus = '';
  let reasons: string[] = [];
  try {
    const error = JSON.parse(bodyText)?.error;
    if (error?.message) message = String(error.message);
    googleStatus = String(error?.status ?? '');
    reasons = [...(error?.details ?? []), ...(error?.errors ?? [])].map((d: { reason?: string }) => String(d?.reason ?? '')).filter(Boolean);
  } catch {
    if (bodyText.trim()) message = bodyText.trim().split('\n')[0]!;
  }
  if (reasons.includes('SERVICE_DISABLED') && !/SERVICE_DISABLED|is disabled|has not been used/i.test(message)) message = `${message} (SERVICE_DISABLED)`;
  const kind = errorKind(status, googleStatus);
  return new GcloudError(redact(message), kind, command, null, redact(bodyText), HINTS[kind]?.(project));
}

function errorKind(status: number, googleStatus: string): GcloudErrorKind {
  if (status === 404 || googleStatus === 'NOT_FOUND') return 'not-found';
  if (status === 401 || googleStatus === 'UNAUTHENTICATED') return 'unauthenticated';
  if (status === 403 || googleStatus === 'PERMISSION_DENIED') return 'permission';
  if (status === 429 || status >= 500 || googleStatus === 'RESOURCE_EXHAUSTED' || googleStatus === 'UNAVAILABLE') return 'transient';
  if (googleStatus === 'ALREADY_EXISTS') return 'already-exists';
  if (status === 412 || googleStatus === 'FAILED_PRECONDITION' || googleStatus === 'ABORTED') return 'precondition';
  if (status === 400 || googleStatus === 'INVALID_ARGUMENT') return 'invalid';
  return 'other';
}

const HINTS: Partial<Record<GcloudErrorKind, (project: string) => string>> = {
  permission: (p) => `Your account lacks a permission on project ${p} (or the API is disabled): check \`gcloud projects get-iam-policy ${p}\` and that the API is enabled (\`pnpm task apis:enable\`).`,
  transient: () => 'Google Cloud answered with a temporary error after retries; run the task again in a moment.',
  unauthenticated: () => 'Run `gcloud auth login` (and `gcloud auth application-default login`).',
};

// ---------------------------------------------------------------- the reader

export interface RestCallOptions {
  /** Query parameters. */
  query?: Record<string, string | undefined>;
  /** Per-call bound: the request is aborted and fails with kind 'timeout' after it. */
  timeoutMs?: number;
  /** A POST with this JSON body (read-only methods such as `:getIamPolicy`). */
  body?: unknown;
  /** Cloud Run's Knative API is regional. */
  region?: string;
}

/** A request of the storage client: any method, a raw body, the raw answer. */
interface SendOptions extends Omit<RestCallOptions, 'body'> {
  method: 'GET' | 'POST' | 'DELETE';
  /** JSON body. */
  body?: unknown;
  /** Raw body with its content type (object uploads). */
  media?: { data: string; contentType: string };
}

interface Answer {
  text: string;
  headers: { get(name: string): string | null };
}

export interface RestReader {
  /** One resource, validated by `schema`; null when it does not exist. */
  get<S extends z.ZodType>(api: RestApi, relPath: string, schema: S, opts?: RestCallOptions): Promise<z.infer<S> | null>;
  /** Every item of a paged list (`key` names the array), each validated; null when the parent does not exist. */
  list<S extends z.ZodType>(api: RestApi, relPath: string, key: string, schema: S, opts?: RestCallOptions): Promise<z.infer<S>[] | null>;
  /** A body that is not JSON (an object's bytes as text); null when it does not exist. */
  text(api: RestApi, relPath: string, opts?: RestCallOptions): Promise<string | null>;
}

/** The run's access token, and whether it came from gcloud's token cache rather than from gcloud itself. */
interface Bearer {
  value: string;
  cached: boolean;
}

/** The run's keep-alive connection pool and undici's request over it. */
interface Pool {
  dispatcher: Dispatcher;
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}

/** What the REST reader shares across the tasks of a run: the connection pool, the token and the call count. */
export interface RestSession {
  env: Readonly<Record<string, string | undefined>>;
  project: string;
  stats: { requests: number; retries: number };
  pool?: Promise<Pool>;
  token?: Promise<Bearer | null>;
  /** Set once Google refused gcloud's cached token: the rest of the run takes its token from gcloud. */
  cachedTokenRefused?: boolean;
}

export function createRestSession(env: Readonly<Record<string, string | undefined>>, project: string): RestSession {
  return { env, project, stats: { requests: 0, retries: 0 } };
}

/** Closes the run's connection pool (keep-alive sockets would otherwise hold the process a few seconds). */
export async function closeRestSession(session: RestSession): Promise<void> {
  if (session.pool) await (await session.pool).dispatcher.close();
}

/**
 * One keep-alive pool for the run. With a proxy in the configuration every request goes through it, as
 * with gcloud: plain-http URLs in absolute form (the sandbox reaches its regional Cloud Run host this way),
 * https ones through CONNECT; otherwise the standard HTTP(S)_PROXY variables apply. The configuration's CA
 * file is trusted for TLS. undici's dispatchers and its request come from their own modules: its index loads
 * the whole library (fetch, WebSocket, mocks, caches), which cost a `status` run more CPU than all its requests.
 */
async function openPool(env: Readonly<Record<string, string | undefined>>): Promise<Pool> {
  const [{ default: request }, dispatcher] = await Promise.all([import('undici/lib/api/api-request.js'), makeDispatcher(env)]);
  return { dispatcher, request: (options) => request.call(dispatcher, options) };
}

async function makeDispatcher(env: Readonly<Record<string, string | undefined>>): Promise<Dispatcher> {
  const [{ default: Agent }, { default: ProxyAgent }, { default: EnvHttpProxyAgent }] = await Promise.all([
    import('undici/lib/dispatcher/agent.js'),
    import('undici/lib/dispatcher/proxy-agent.js'),
    import('undici/lib/dispatcher/env-http-proxy-agent.js'),
  ]);
  const caFile = gcloudProperty(env, 'core', 'custom_ca_certs_file');
  const tls = caFile ? { ca: fs.readFileSync(caFile, 'utf8') } : {};
  const type = gcloudProperty(env, 'proxy', 'type');
  const address = gcloudProperty(env, 'proxy', 'address');
  const port = gcloudProperty(env, 'proxy', 'port');
  if (type && address && port) {
    if (type !== 'http') {
      throw new GcloudError(`proxy/type ${type} is not supported for direct reads (only http)`, 'invalid', 'gcloud config get proxy/type', null, '', 'Use an http proxy in the gcloud configuration.');
    }
    const user = gcloudProperty(env, 'proxy', 'username');
    const password = gcloudProperty(env, 'proxy', 'password');
    if (password) registerSecret(password);
    const token = user ? `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` : undefined;
    return new ProxyAgent({ uri: `http://${address}:${port}`, token, proxyTunnel: false, requestTls: tls, keepAliveTimeout: 10_000 });
  }
  return process.env.HTTPS_PROXY || process.env.HTTP_PROXY || process.env.https_proxy || process.env.http_proxy
    ? new EnvHttpProxyAgent({ connect: tls })
    : new Agent({ connect: tls, keepAliveTimeout: 10_000 });
}

const MAX_ATTEMPTS = 5;
const BACKOFF_MS = [500, 1000, 2000, 4000];
/** Network failures worth another attempt (a reset keep-alive socket, a refused connection while a server restarts). */
const RETRYABLE_NETWORK = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR_SOCKET|UND_ERR_CLOSED|other side closed/;

/** Who makes the requests: its log and abort signal, and the gcloud wrapper that prints the run's token. */
export interface RestCaller {
  gcloud: Gcloud;
  log: Logger;
  signal: AbortSignal;
}

const headerValue = (value: string | string[] | undefined): string | null => (value === undefined ? null : Array.isArray(value) ? value.join(', ') : value);

/** Requests of one caller over the run's session: the token once, retries of transient failures. */
function createTransport(session: RestSession, task: RestCaller): (api: RestApi, url: URL, opts: SendOptions) => Promise<Answer> {
  const fromGcloud = async (): Promise<Bearer> => {
    const text = await task.gcloud.read(z.string(), ['auth', 'print-access-token'], { json: false, project: false });
    const value = (text ?? '').trim();
    if (!value) throw new GcloudError('gcloud printed no access token', 'unauthenticated', 'gcloud auth print-access-token', null, '', HINTS.unauthenticated!(session.project));
    registerSecret(value);
    return { value, cached: false };
  };
  const token = (): Promise<Bearer | null> =>
    (session.token ??= (async (): Promise<Bearer | null> => {
      // With disabled credentials gcloud sends no Authorization header; neither do we.
      if (truthy(gcloudProperty(session.env, 'auth', 'disable_credentials'))) return null;
      const cached = session.cachedTokenRefused ? undefined : await cachedAccessToken(session.env);
      if (!cached) return fromGcloud();
      registerSecret(cached);
      return { value: cached, cached: true };
    })().catch((e: unknown) => {
      session.token = undefined;
      throw e;
    }));

  return async (_api, url, opts) => {
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const { method } = opts;
    const command = `${method} ${url.toString()}`;
    const { request } = await (session.pool ??= openPool(session.env));
    let bearer = await token();
    for (let attempt = 1; ; attempt++) {
      session.stats.requests++;
      task.log.debug(`$ ${command}`);
      const deadline = opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined;
      const signal = deadline ? AbortSignal.any([task.signal, deadline]) : task.signal;
      let failure: GcloudError;
      try {
        const contentType = opts.media ? opts.media.contentType : opts.body === undefined ? undefined : 'application/json';
        const res = await request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers: { accept: 'application/json', ...(bearer ? { authorization: `Bearer ${bearer.value}` } : {}), ...(contentType ? { 'content-type': contentType } : {}) },
          body: opts.media ? opts.media.data : opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal,
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return { text, headers: { get: (name) => headerValue(res.headers[name.toLowerCase()]) } };
        failure = toRestError(res.statusCode, text, command, session.project);
        // gcloud's cached token was refused (revoked, or the clock is off): the run asks gcloud for one instead.
        if (failure.kind === 'unauthenticated' && bearer?.cached) {
          // The first request refused forgets the token; the others then find gcloud's on its way.
          if (!session.cachedTokenRefused) {
            session.cachedTokenRefused = true;
            session.token = undefined;
          }
          bearer = await token();
          attempt--;
          continue;
        }
      } catch (e) {
        if (task.signal.aborted) throw new GcloudError('interrupted', 'interrupted', command, null, '');
        if (deadline?.aborted) {
          throw new GcloudError(`no answer within ${((opts.timeoutMs ?? 0) / 1000).toFixed(0)} s`, 'timeout', command, null, '', 'The API is slow or unreachable; try again, or raise the timeout.');
        }
        const text = errorChain(e);
        failure = new GcloudError(`cannot reach ${url.host}: ${text}`, RETRYABLE_NETWORK.test(text) ? 'transient' : 'other', command, null, text);
      }
      if (failure.kind !== 'transient' || attempt >= MAX_ATTEMPTS) throw failure;
      session.stats.retries++;
      const wait = BACKOFF_MS[attempt - 1]! * (0.75 + Math.random() / 2);
      task.log.warn(`${command}: ${failure.message} — retry ${attempt}/${MAX_ATTEMPTS - 1} in ${(wait / 1000).toFixed(1)} s`);
      await delay(wait, task.signal);
      if (task.signal.aborted) throw new GcloudError('interrupted', 'interrupted', command, null, '');
    }
  };
}

/** A 404 is an answer: the thing does not exist. */
async function notFoundAsNull<T>(work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof GcloudError && e.kind === 'not-found') return null;
    throw e;
  }
}

/** The reader of one task: its log and abort signal, the run's shared session, the gcloud wrapper for the token. */
export function createRestReader(session: RestSession, task: RestCaller): RestReader {
  const send = createTransport(session, task);
  const fetchText = async (api: RestApi, relPath: string, opts: RestCallOptions): Promise<string> => {
    const url = new URL(relPath, endpointOf(session.env, api, opts.region));
    return (await send(api, url, { ...opts, method: opts.body === undefined ? 'GET' : 'POST' })).text;
  };
  const request = async (api: RestApi, relPath: string, opts: RestCallOptions): Promise<unknown> => {
    const text = await fetchText(api, relPath, opts);
    return text.trim() ? JSON.parse(text) : {};
  };

  const validate = <S extends z.ZodType>(schema: S, value: unknown, api: RestApi, relPath: string): z.infer<S> => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new GcloudError(`unexpected ${api} answer for ${relPath}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, 'other', `GET ${relPath}`, null, '');
  };

  return {
    get: (api, relPath, schema, opts = {}) => notFoundAsNull(async () => validate(schema, await request(api, relPath, opts), api, relPath)),
    text: (api, relPath, opts = {}) => notFoundAsNull(() => fetchText(api, relPath, opts)),
    list: (api, relPath, key, schema, opts = {}) =>
      notFoundAsNull(async () => {
        const items: unknown[] = [];
        let pageToken: { name: string; value: string } | undefined;
        // The deadline bounds the whole list, not each page.
        const end = opts.timeoutMs ? Date.now() + opts.timeoutMs : undefined;
        do {
          const query = { ...opts.query, ...(pageToken ? { [pageToken.name]: pageToken.value } : {}) };
          const timeoutMs = end === undefined ? undefined : Math.max(1, end - Date.now());
          const page = (await request(api, relPath, { ...opts, query, timeoutMs })) as Record<string, unknown> & { nextPageToken?: string; metadata?: { continue?: string } };
          const pageItems = page[key];
          if (pageItems !== undefined && !Array.isArray(pageItems)) throw new GcloudError(`unexpected ${api} answer for ${relPath}: ${key} is not a list`, 'other', `GET ${relPath}`, null, '');
          items.push(...(pageItems ?? []));
          // Google's APIs page with nextPageToken; Cloud Run's Knative API with metadata.continue.
          pageToken = page.nextPageToken ? { name: 'pageToken', value: page.nextPageToken } : page.metadata?.continue ? { name: 'continue', value: page.metadata.continue } : undefined;
        } while (pageToken);
        return items.map((item) => validate(schema, item, api, relPath));
      }),
  };
}

/** An error and its causes on one line (undici may wrap the socket error as `cause`). */
function errorChain(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur && parts.length < 4; cur = (cur as { cause?: unknown }).cause) {
    const err = cur as { message?: string; code?: string };
    parts.push([err.code, err.message].filter(Boolean).join(' '));
  }
  return redact(parts.filter(Boolean).join(': ') || String(e));
}

// ---------------------------------------------------------------- Cloud Storage objects

/** An object's bytes as text, with the generation a conditional write or delete names. */
export interface StoredObject {
  text: string;
  generation: string;
}

/**
 * Objects of Cloud Storage through the JSON API, over the run's session (token, pool, retries). Writes and
 * deletes are conditional on a generation (`0` = the object must not exist): a 412 is a GcloudError of kind
 * 'precondition', so a writer never replaces what another wrote meanwhile without knowing.
 */
export interface StorageClient {
  /** Names and generations of the objects under a prefix (every page). */
  list(bucket: string, prefix: string): Promise<{ name: string; generation: string }[]>;
  /** null when the object does not exist. */
  read(bucket: string, name: string): Promise<StoredObject | null>;
  /** Returns the new generation. */
  write(bucket: string, name: string, text: string, ifGenerationMatch: string, contentType?: string): Promise<string>;
  /** false when the object was already gone. */
  delete(bucket: string, name: string, ifGenerationMatch?: string): Promise<boolean>;
}

export function createStorageClient(session: RestSession, caller: RestCaller): StorageClient {
  const send = createTransport(session, caller);
  const api = () => endpointOf(session.env, 'storage');
  const objectUrl = (bucket: string, name: string) => new URL(`b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`, api());
  return {
    async list(bucket, prefix) {
      const out: { name: string; generation: string }[] = [];
      let pageToken: string | undefined;
      do {
        const { text } = await send('storage', new URL(`b/${encodeURIComponent(bucket)}/o`, api()), { method: 'GET', query: { prefix, pageToken, fields: 'items(name,generation),nextPageToken' } });
        const page = JSON.parse(text || '{}') as { items?: { name: string; generation: string }[]; nextPageToken?: string };
        out.push(...(page.items ?? []).map(({ name, generation }) => ({ name, generation: String(generation) })));
        pageToken = page.nextPageToken;
      } while (pageToken);
      return out;
    },
    read: (bucket, name) =>
      notFoundAsNull(async () => {
        const { text, headers } = await send('storage', objectUrl(bucket, name), { method: 'GET', query: { alt: 'media' } });
        return { text, generation: headers.get('x-goog-generation') ?? '' };
      }),
    async write(bucket, name, text, ifGenerationMatch, contentType = 'application/json') {
      // Uploads have their own path beside the JSON API's: <root>/upload/storage/v1/.
      const url = new URL(`../../upload/storage/v1/b/${encodeURIComponent(bucket)}/o`, api());
      const answer = await send('storage', url, { method: 'POST', query: { uploadType: 'media', name, ifGenerationMatch }, media: { data: text, contentType } });
      return String((JSON.parse(answer.text) as { generation?: string }).generation ?? '');
    },
    async delete(bucket, name, ifGenerationMatch) {
      return (await notFoundAsNull(() => send('storage', objectUrl(bucket, name), { method: 'DELETE', query: { ifGenerationMatch } }))) !== null;
    },
  };
}
