// The REST reader against a local HTTP server standing in for a Google API: the gcloud configuration's
// endpoint overrides (variable or properties file), Google's error bodies as the wrapper's error kinds,
// not-found as null, pagination, retries of 429 that obey the abort signal, and a per-call bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import { z } from 'zod';
import { closeRestSession, createRestReader, createRestSession, endpointOf, type RestSession } from '../../lib/gcp/rest.js';
import { gcloudProperty } from '../../lib/gcp/gcloud-files.js';
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

/** A gcloud configuration logged in as `account`, whose token cache holds `token` until `expiresAt`. */
async function loggedIn(account: string, properties: string, token: string, expiresAt: Date): Promise<string> {
  const dir = configDir(`[core]\naccount = ${account}\n${properties}`);
  fs.mkdirSync(path.join(dir, 'legacy_credentials', account), { recursive: true });
  fs.writeFileSync(path.join(dir, 'legacy_credentials', account, 'adc.json'), '{}');
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run('CREATE TABLE "access_tokens" (account_id TEXT PRIMARY KEY, access_token TEXT, token_expiry TIMESTAMP, rapt_token TEXT, id_token TEXT)');
  db.run('INSERT INTO access_tokens VALUES (?, ?, ?, NULL, NULL)', [account, token, expiresAt.toISOString().replace('T', ' ').replace('Z', '000')]);
  fs.writeFileSync(path.join(dir, 'access_tokens.db'), db.export());
  db.close();
  return dir;
}

test("gcloud's cached token is used while fresh; an expiring one, impersonation or a 401 make the run ask gcloud", async () => {
  const seen: string[] = [];
  let refuse = '';
  const s = await server((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization === `Bearer ${refuse}`) return res.writeHead(401).end(JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }));
    res.end(JSON.stringify({ name: 'a' }));
  });
  let asked = 0;
  const gcloud = { read: async () => (asked++, 'ya29.from-gcloud\n') } as unknown as Gcloud;
  const inAnHour = new Date(Date.now() + 3600_000);
  const cases: { name: string; properties?: string; expiresAt?: Date; refuse?: string; header: string; asked: number }[] = [
    { name: 'fresh', header: 'Bearer ya29.cached', asked: 0 },
    { name: 'expires in two minutes', expiresAt: new Date(Date.now() + 120_000), header: 'Bearer ya29.from-gcloud', asked: 1 },
    { name: 'impersonation', properties: '[auth]\nimpersonate_service_account = deployer@p.iam.gserviceaccount.com\n', header: 'Bearer ya29.from-gcloud', asked: 1 },
    { name: 'refused', refuse: 'ya29.cached', header: 'Bearer ya29.from-gcloud', asked: 1 },
  ];
  try {
    for (const c of cases) {
      const dir = await loggedIn('me@example.com', c.properties ?? '', 'ya29.cached', c.expiresAt ?? inAnHour);
      const session = createRestSession({ CLOUDSDK_CONFIG: dir, CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: s.url }, 'demo-project');
      const rest = createRestReader(session, { gcloud, log: quiet, signal: new AbortController().signal });
      asked = 0;
      seen.length = 0;
      refuse = c.refuse ?? '';
      try {
        assert.equal(await rest.get('iam', 'v1/x', item), { name: 'a' }, c.name);
        assert.equal(await rest.get('iam', 'v1/y', item), { name: 'a' }, c.name);
        assert.is(seen.at(-1), c.header, c.name);
        assert.is(asked, c.asked, `${c.name}: gcloud asked for a token ${asked} times`);
        if (c.refuse) assert.equal(seen, ['Bearer ya29.cached', 'Bearer ya29.from-gcloud', 'Bearer ya29.from-gcloud'], 'the refused token is not sent again');
      } finally {
        await closeRestSession(session);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await s.close();
  }
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
