// The REST reader against a local HTTP server standing in for a Google API: the gcloud configuration's
// endpoint overrides (variable or properties file), Google's error bodies as the wrapper's error kinds,
// not-found as null, pagination, retries of 429 that obey the abort signal, and a per-call bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { closeRestSession, createRestReader, createRestSession, endpointOf, gcloudProperty, type RestSession } from '../../lib/gcp/rest.js';
import { GcloudError, type Gcloud } from '../../lib/gcp/gcloud.js';
import type { Logger } from '../../lib/engine/types.js';

const item = z.looseObject({ name: z.string() });
const quiet = { debug() {}, info() {}, warn() {}, success() {}, output() {}, error() {} } as unknown as Logger;
const noGcloud = { read: async () => { throw new Error('no gcloud call expected with disabled credentials'); } } as unknown as Gcloud;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
async function server(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }) };
}

function configDir(properties: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-rest-'));
  fs.mkdirSync(path.join(dir, 'configurations'));
  fs.writeFileSync(path.join(dir, 'active_config'), 'work\n');
  fs.writeFileSync(path.join(dir, 'configurations', 'config_work'), properties);
  return dir;
}

function reader(url: string, signal = new AbortController().signal): { session: RestSession; rest: ReturnType<typeof createRestReader> } {
  const session = createRestSession({ CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: url, CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true', CLOUDSDK_CONFIG: '/nonexistent' }, 'demo-project');
  return { session, rest: createRestReader(session, { gcloud: noGcloud, log: quiet, signal }) };
}

test('endpoint overrides: the variable wins, else the active configuration\'s properties file, else Google', () => {
  const dir = configDir('[core]\nproject = p\n\n[api_endpoint_overrides]\nsql = http://127.0.0.1:9/\nrun = http://run.sandbox:9/\nstorage = http://127.0.0.1:9/\n[proxy]\ntype = http\n');
  const env = { CLOUDSDK_CONFIG: dir };
  assert.is(endpointOf(env, 'sql'), 'http://127.0.0.1:9/');
  assert.is(endpointOf({ ...env, CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL: 'http://10.0.0.1:8/' }, 'sql'), 'http://10.0.0.1:8/');
  assert.is(endpointOf(env, 'storage'), 'http://127.0.0.1:9/storage/v1/', 'a root override gets the storage base path');
  assert.is(endpointOf(env, 'run', 'us-central1'), 'http://us-central1-run.sandbox:9/', 'Cloud Run is regional');
  assert.is(endpointOf(env, 'iam'), 'https://iam.googleapis.com/');
  assert.is(endpointOf({ CLOUDSDK_CONFIG: '/nonexistent' }, 'run', 'europe-west1'), 'https://europe-west1-run.googleapis.com/');
  assert.is(gcloudProperty(env, 'proxy', 'type'), 'http');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a list follows nextPageToken; not found is null; permission is an error of that kind', async () => {
  const seen: string[] = [];
  const s = await server((req, res) => {
    seen.push(req.url!);
    res.setHeader('content-type', 'application/json');
    if (req.url!.includes('/missing')) return res.writeHead(404).end(JSON.stringify({ error: { code: 404, message: 'nope', status: 'NOT_FOUND' } }));
    if (req.url!.includes('/denied')) return res.writeHead(403).end(JSON.stringify({ error: { code: 403, message: 'Permission denied on resource', status: 'PERMISSION_DENIED' } }));
    const page2 = req.url!.includes('pageToken=t2');
    res.end(JSON.stringify(page2 ? { accounts: [{ name: 'b' }] } : { accounts: [{ name: 'a' }], nextPageToken: 't2' }));
  });
  const { session, rest } = reader(s.url);
  try {
    assert.equal(await rest.list('iam', 'v1/projects/demo-project/serviceAccounts', 'accounts', item), [{ name: 'a' }, { name: 'b' }]);
    assert.is(seen.length, 2, 'two pages fetched');
    assert.is(await rest.get('iam', 'v1/missing', item), null);
    const denied = await rest.get('iam', 'v1/denied', item).then(() => null, (e: unknown) => e);
    assert.ok(denied instanceof GcloudError, String(denied));
    assert.is((denied as GcloudError).kind, 'permission');
    assert.match((denied as GcloudError).message, 'Permission denied on resource');
    const shape = await rest.get('iam', 'v1/x', z.looseObject({ email: z.string() })).then(() => null, (e: unknown) => e);
    assert.match(String((shape as Error).message), /unexpected iam answer.*email/);
  } finally {
    await closeRestSession(session);
    await s.close();
  }
});

test('429 is retried with backoff; the abort signal ends the wait at once', async () => {
  let calls = 0;
  const s = await server((_req, res) => {
    calls++;
    res.setHeader('content-type', 'application/json');
    if (calls === 1) return res.writeHead(429).end(JSON.stringify({ error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } }));
    res.end(JSON.stringify({ name: 'ok' }));
  });
  const { session, rest } = reader(s.url);
  try {
    assert.equal(await rest.get('iam', 'v1/thing', item), { name: 'ok' });
    assert.is(calls, 2);
    assert.is(session.stats.retries, 1, 'the retry was counted');
  } finally {
    await closeRestSession(session);
  }
  calls = 0;
  const abort = new AbortController();
  const r2 = reader(s.url, abort.signal);
  const s2 = await server((_req, res) => res.writeHead(503).end('{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}'));
  const r3 = reader(s2.url, abort.signal);
  try {
    const started = Date.now();
    const pending = r3.rest.get('iam', 'v1/thing', item).then(() => null, (e: unknown) => e);
    setTimeout(() => abort.abort(), 100);
    const e = (await pending) as GcloudError;
    assert.is(e.kind, 'interrupted');
    assert.ok(Date.now() - started < 2000, `ended by the abort, not the backoff: ${Date.now() - started} ms`);
  } finally {
    await closeRestSession(r2.session);
    await closeRestSession(r3.session);
    await s.close();
    await s2.close();
  }
});

test('a call past its bound fails as timeout, never as not found', async () => {
  const s = await server(() => {
    /* never answers */
  });
  const { session, rest } = reader(s.url);
  try {
    const e = (await rest.get('iam', 'v1/slow', item, { timeoutMs: 200 }).then(() => null, (err: unknown) => err)) as GcloudError;
    assert.ok(e instanceof GcloudError, String(e));
    assert.is(e.kind, 'timeout');
  } finally {
    await closeRestSession(session);
    await s.close();
  }
});

test.run();
