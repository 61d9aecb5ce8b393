// The sandbox core over direct HTTP: proxy-form requests, 501 for what is not implemented, Google errors,
// control endpoints, seeded fault injection, operations that finish after their simulated time, the
// CONNECT/TLS path of the Cloud Build log host, persistence across restarts, finding a running sandbox.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueAccessToken } from '../../lib/sandbox/auth.js';
import { SANDBOX_ACCOUNT } from '../../lib/sandbox/gcloud-config.js';
import { sandboxCerts } from '../../lib/sandbox/certs.js';
import { connectOrStartSandbox, startSandbox, writeSandboxInfo } from '../../lib/sandbox/index.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sb: TestSandbox;
const json = { 'content-type': 'application/json' };
/** The header of a logged-in caller of the sandbox in `stateDir`. */
const bearer = (stateDir: string) => ({ authorization: `Bearer ${issueAccessToken(stateDir, SANDBOX_ACCOUNT)}` });

test.before(async () => {
  sb = await startTestSandbox();
});
test.after(async () => {
  await sb.stop();
});

/** Sends one raw HTTP/1.1 request line (e.g. the absolute form a proxy receives) and returns status + body. */
function raw(port: number, requestLine: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${requestLine}\r\nHost: ${host}\r\nAuthorization: ${bearer(sb.dir).authorization}\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(head!.split(' ')[1]), body: rest.join('\r\n\r\n') });
    });
  });
}

test('absolute-form proxy requests are routed like origin-form ones', async () => {
  const port = sb.handle.port;
  const abs = await raw(port, `GET http://127.0.0.1:${port}/v1/projects/${sb.handle.project}/services/run.googleapis.com?alt=json HTTP/1.1`, `127.0.0.1:${port}`);
  assert.is(abs.status, 200);
  assert.is(JSON.parse(abs.body).config.name, 'run.googleapis.com');
  const origin = await sb.fetch(`/v1/projects/${sb.handle.project}/services/run.googleapis.com?alt=json`);
  assert.equal(await origin.json(), JSON.parse(abs.body));
});

test('an unimplemented request answers 501 naming the method and the path, never a silent success', async () => {
  const unknownPath = await sb.fetch('/v1/projects/digitwin-sandbox/widgets', { method: 'POST', body: '{}', headers: json });
  assert.is(unknownPath.status, 501);
  const body = await unknownPath.json();
  assert.is(body.error.status, 'UNIMPLEMENTED');
  assert.match(body.error.message, 'POST /v1/projects/digitwin-sandbox/widgets');
  // A known path with a method the sandbox does not serve.
  const wrongMethod = await sb.fetch('/v1/projects/digitwin-sandbox/services', { method: 'DELETE' });
  assert.is(wrongMethod.status, 501);
  assert.match((await wrongMethod.json()).error.message, 'DELETE /v1/projects/digitwin-sandbox/services');
  // A Cloud Run-style host through the proxy with an unknown path.
  const viaProxy = await raw(sb.handle.port, `GET http://us-central1-run.sandbox:${sb.handle.port}/apis/unknown.dev/v1/x HTTP/1.1`, `us-central1-run.sandbox:${sb.handle.port}`);
  assert.is(viaProxy.status, 501);
  assert.match(viaProxy.body, 'us-central1-run.sandbox');
});

test('errors have the Google shape; bad JSON and bad project ids are 400', async () => {
  const missing = await sb.fetch('/storage/v1/b/no-such-bucket-here');
  assert.is(missing.status, 404);
  const err = (await missing.json()).error;
  // Cloud Storage's JSON API: code, message and errors[].reason, no status field.
  assert.is(err.code, 404);
  assert.is(err.status, undefined);
  assert.is(err.errors[0].reason, 'notFound');
  // The other APIs: code, message and a canonical status (here: Secret Manager is not enabled yet).
  const disabledApi = await sb.fetch('/v1/projects/digitwin-sandbox/secrets/no-such-secret');
  assert.is(disabledApi.status, 403);
  const disabledErr = (await disabledApi.json()).error;
  assert.is(disabledErr.code, 403);
  assert.is(disabledErr.status, 'PERMISSION_DENIED');
  const badJson = await sb.fetch('/v1/projects/digitwin-sandbox/services:batchEnable', { method: 'POST', body: '{nope', headers: json });
  assert.is(badJson.status, 400);
  const badProject = await sb.fetch('/v1/projects/Bad_Project/services');
  assert.is(badProject.status, 400);
  assert.match((await badProject.json()).error.message, 'Invalid project id [Bad_Project]');
});

test('control endpoints: health, state dump, invalid faults refused, reset', async () => {
  const health = await (await sb.fetch('/__sandbox/health')).json();
  assert.is(health.ok, true);
  assert.is(health.stateDir, sb.dir);
  await sb.fetch(`/storage/v1/b?project=${sb.handle.project}`, { method: 'POST', body: JSON.stringify({ name: 'gt-core-reset' }), headers: json });
  const state = await sb.dump();
  assert.ok(state.projects[sb.handle.project]!.storage?.buckets['gt-core-reset']);
  const bad = await sb.fetch('/__sandbox/faults', { method: 'PUT', body: JSON.stringify({ transientRate: 7 }), headers: json });
  assert.is(bad.status, 400);
  assert.match((await bad.json()).error.message, 'transientRate');
  await sb.reset();
  assert.equal((await sb.dump()).projects, {});
});

test('fault injection is reproducible from a seed', async () => {
  const statuses = async (seed: number) => {
    await sb.setFaults({ seed, transientRate: 0.5 });
    const out: number[] = [];
    for (let i = 0; i < 24; i++) out.push((await sb.fetch(`/v1/projects/${sb.handle.project}/services/run.googleapis.com`)).status);
    return out;
  };
  const first = await statuses(42);
  const again = await statuses(42);
  const other = await statuses(7);
  await sb.setFaults({});
  assert.equal(again, first);
  assert.not.equal(other, first);
  assert.ok(first.includes(200) && first.some((s) => s === 429 || s === 503), `a mix of answers: ${first}`);
  assert.ok(first.every((s) => [200, 429, 503].includes(s)));
  const log = await sb.requests();
  assert.ok(log.some((r) => r.injected), 'injected answers are marked in the request log');
});

test('permanent and limited errors match method and path; slow responses are slower', async () => {
  await sb.setFaults({ errors: [{ method: 'GET', path: '/services/run.googleapis.com', status: 403, message: 'no way' }, { path: 'iam.googleapis.com', status: 503, times: 1 }] });
  const denied = await sb.fetch(`/v1/projects/${sb.handle.project}/services/run.googleapis.com`);
  assert.is(denied.status, 403);
  assert.is((await denied.json()).error.message, 'no way');
  assert.is((await sb.fetch(`/v1/projects/${sb.handle.project}/services/run.googleapis.com:enable`, { method: 'POST', body: '{}', headers: json })).status, 200, 'other methods are not matched');
  assert.is((await sb.fetch(`/v1/projects/${sb.handle.project}/services/iam.googleapis.com`)).status, 503);
  assert.is((await sb.fetch(`/v1/projects/${sb.handle.project}/services/iam.googleapis.com`)).status, 200, 'times:1 fires once');
  await sb.setFaults({ slow: [{ path: '/services/compute.googleapis.com', ms: 300 }] });
  const started = Date.now();
  assert.is((await sb.fetch(`/v1/projects/${sb.handle.project}/services/compute.googleapis.com`)).status, 200);
  assert.ok(Date.now() - started >= 300, 'the slow rule delays the answer');
  await sb.setFaults({});
});

test('long-running operations become done after their simulated time (latency scale)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-lro-'));
  const slow = await startSandbox({ stateDir: dir, latencyScale: 0.02 }); // enableApi: 15 s × 0.02 = 300 ms
  try {
    const auth = bearer(dir);
    const res = await fetch(`${slow.url}/v1/projects/${slow.project}/services/container.googleapis.com:enable`, { method: 'POST', body: '{}', headers: { ...json, ...auth } });
    const op = await res.json();
    assert.is(op.done, false);
    assert.match(op.name, /^operations\/acf\.p2-\d+-/);
    const svc = async () => (await (await fetch(`${slow.url}/v1/projects/${slow.project}/services/container.googleapis.com`, { headers: auth })).json()).state;
    assert.is(await svc(), 'DISABLED', 'not enabled before the operation is done');
    let polled: any;
    for (let i = 0; i < 100; i++) {
      polled = await (await fetch(`${slow.url}/v1/${op.name}`, { headers: auth })).json();
      if (polled.done) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(polled.done, true);
    assert.is(polled.response.service.state, 'ENABLED');
    assert.is(await svc(), 'ENABLED');
  } finally {
    await slow.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CONNECT to storage.googleapis.com is terminated with the sandbox CA and serves objects with Range', async () => {
  const project = sb.handle.project;
  await sb.fetch(`/storage/v1/b?project=${project}`, { method: 'POST', body: JSON.stringify({ name: 'gt-core-logs' }), headers: json });
  await sb.fetch(`/upload/storage/v1/b/gt-core-logs/o?uploadType=media&name=log-1.txt`, { method: 'POST', body: 'line one\nline two\n', headers: { 'content-type': 'text/plain' } });
  const ca = fs.readFileSync(sandboxCerts(sb.dir).caFile);
  const response = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(sb.handle.port, '127.0.0.1', () => socket.write('CONNECT storage.googleapis.com:443 HTTP/1.1\r\nHost: storage.googleapis.com:443\r\n\r\n'));
    socket.once('data', (d) => {
      assert.match(d.toString(), /^HTTP\/1\.1 200/);
      const secure = tls.connect({ socket, servername: 'storage.googleapis.com', ca }, () => {
        secure.write(`GET /gt-core-logs/log-1.txt HTTP/1.1\r\nHost: storage.googleapis.com\r\nAuthorization: ${bearer(sb.dir).authorization}\r\nRange: bytes=9-\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      secure.on('data', (c) => (data += c));
      secure.on('end', () => resolve(data));
      secure.on('error', reject);
    });
    socket.on('error', reject);
  });
  assert.match(response, /^HTTP\/1\.1 206/);
  assert.match(response, /\r\n\r\nline two\n$/);
});

test('state persists across a restart (atomic JSON file) and a running sandbox is found through sandbox.json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-persist-'));
  try {
    const first = await startSandbox({ stateDir: dir, latencyScale: 0 });
    const auth = bearer(dir);
    await fetch(`${first.url}/storage/v1/b?project=${first.project}`, { method: 'POST', body: JSON.stringify({ name: 'gt-core-persist', labels: { env: 'dev' } }), headers: { ...json, ...auth } });
    await fetch(`${first.url}/upload/storage/v1/b/gt-core-persist/o?uploadType=media&name=a.txt`, { method: 'POST', body: 'kept', headers: { 'content-type': 'text/plain', ...auth } });
    // While it runs and is announced, connectOrStartSandbox uses it instead of starting another.
    writeSandboxInfo(first);
    const found = await connectOrStartSandbox({ stateDir: dir });
    assert.is(found.owned, false);
    assert.is(found.url, first.url);
    await first.stop();
    assert.equal(fs.readdirSync(dir).filter((f) => /\.(tmp|\d+)$/.test(f)), [], 'no temporary file left behind');
    // sandbox.json now names a stopped sandbox: a new one is started (owned) on the same state.
    const second = await connectOrStartSandbox({ stateDir: dir, latencyScale: 0 });
    try {
      assert.is(second.owned, true);
      // Same port as before, so the Cloud Run URLs it handed out (they contain the port) stay valid.
      assert.is(second.url, first.url);
      // A token issued before the restart is still valid (signed with the folder's key).
      const bucket = await (await fetch(`${second.url}/storage/v1/b/gt-core-persist`, { headers: auth })).json();
      assert.equal(bucket.labels, { env: 'dev' });
      assert.is(await (await fetch(`${second.url}/storage/v1/b/gt-core-persist/o/a.txt?alt=media`, { headers: auth })).text(), 'kept');
    } finally {
      await second.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a restart whose previous port is taken falls back to another port', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-port-'));
  const first = await startSandbox({ stateDir: dir, latencyScale: 0 });
  const blocker = net.createServer();
  try {
    await first.stop();
    await new Promise<void>((resolve) => blocker.listen(first.port, '127.0.0.1', () => resolve()));
    const second = await startSandbox({ stateDir: dir, latencyScale: 0 });
    assert.is.not(second.port, first.port);
    await second.stop();
  } finally {
    blocker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('gcloudEnv is CLOUDSDK_CONFIG and the CA: its configuration reaches the sandbox (Cloud Run through the proxy) as the logged-in owner', async () => {
  const env = sb.handle.gcloudEnv;
  assert.equal(Object.keys(env).sort(), ['CLOUDSDK_CONFIG', 'CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE']);
  assert.is(env.CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, path.join(sb.dir, 'tls', 'ca.pem'));
  assert.ok(env.CLOUDSDK_CONFIG!.startsWith(sb.dir));
  const config = fs.readFileSync(path.join(env.CLOUDSDK_CONFIG!, 'configurations', 'config_default'), 'utf8');
  const root = `http://127.0.0.1:${sb.handle.port}/`;
  for (const api of ['serviceusage', 'artifactregistry', 'storage', 'sql', 'iam', 'cloudresourcemanager', 'secretmanager', 'cloudbuild', 'container', 'monitoring']) {
    assert.ok(config.includes(`\n${api} = ${root}\n`), api);
  }
  assert.ok(config.includes(`\nrun = http://run.sandbox:${sb.handle.port}/\n`));
  assert.ok(config.includes(`\nport = ${sb.handle.port}\n`));
  assert.ok(config.includes('\nproject = digitwin-sandbox\n'));
  assert.ok(config.includes(`\naccount = ${SANDBOX_ACCOUNT}\n`));
  assert.not.ok(config.includes('disable_credentials'));
});

test.run();
