// A sandbox for tests: started in this process, announced in its folder (sandbox.json) so CLI subprocesses run
// with GCP_TASKS_SANDBOX_DIR=<dir> use it, plus the REAL gcloud pointed at it and its control endpoints.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import type { FaultConfig } from '../../lib/sandbox/faults.js';
import type { RequestLogEntry } from '../../lib/sandbox/server.js';
import { removeSandboxInfo, startSandbox, writeSandboxInfo, type SandboxHandle } from '../../lib/sandbox/index.js';
import type { SandboxState } from '../../lib/sandbox/types.js';
import { issueAccessToken } from '../../lib/sandbox/auth.js';
import { SANDBOX_ACCOUNT } from '../../lib/sandbox/gcloud-config.js';
import { snapshotCopy, type SnapshotKind } from './snapshot.js';

export interface GcloudResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestSandbox {
  handle: SandboxHandle;
  dir: string;
  /** Runs the real gcloud with the sandbox's environment (no --project needed: CLOUDSDK_CORE_PROJECT is set). */
  gcloud(args: string[], opts?: { stdin?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<GcloudResult>;
  /** gcloud that must succeed: fails the test with gcloud's stderr otherwise. */
  ok(args: string[], stdin?: string): Promise<GcloudResult>;
  setFaults(faults: FaultConfig): Promise<void>;
  reset(): Promise<void>;
  dump(): Promise<SandboxState>;
  /** Requests the sandbox answered (control requests excluded). */
  requests(): Promise<RequestLogEntry[]>;
  /** Direct HTTP to the sandbox (what gcloud cannot show), with a valid access token unless init sets `authorization`. */
  fetch(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  /**
   * A GET of Google's REST API as a logged-in caller, its JSON body; `host` names the host the request is for
   * (Cloud Run's regional paths answer only on `<region>-run.<host>`). Fails the test on any status but 200.
   * For reading what exists without a gcloud process (a second of CPU each).
   */
  get(pathAndQuery: string, opts?: { host?: string }): Promise<unknown>;
  stop(): Promise<void>;
}

/** Starts a sandbox on a copy of a snapshot (test/helpers/snapshot.ts), on the port the copy was made for. */
async function startFromSnapshot(kind: SnapshotKind, opts: { latencyScale?: number; seed?: number }): Promise<{ dir: string; handle: SandboxHandle }> {
  for (let attempt = 1; ; attempt++) {
    const { dir, port } = await snapshotCopy(kind);
    const handle = await startSandbox({ stateDir: dir, latencyScale: opts.latencyScale ?? 0, seed: opts.seed });
    if (handle.port === port) return { dir, handle };
    // Another program took the port in between: its URLs in the copy would be wrong, so copy again.
    await handle.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (attempt === 3) throw new Error(`the sandbox copy of snapshot "${kind}" could not get the port it was made for (${port})`);
  }
}

/** A sandbox in `dir` (a new temporary folder unless given), or on a copy of a snapshot (a set-up project). */
export async function startTestSandbox(opts: { latencyScale?: number; seed?: number; dir?: string; snapshot?: SnapshotKind } = {}): Promise<TestSandbox> {
  const owned = !opts.dir;
  let dir: string;
  let handle: SandboxHandle;
  if (opts.snapshot) ({ dir, handle } = await startFromSnapshot(opts.snapshot, opts));
  else {
    dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gt-sandbox-'));
    handle = await startSandbox({ stateDir: dir, latencyScale: opts.latencyScale ?? 0, seed: opts.seed });
  }
  writeSandboxInfo(handle);
  const control = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${handle.url}/__sandbox/${route}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox control ${method} ${route}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const gcloud: TestSandbox['gcloud'] = (args, o = {}) =>
    new Promise((resolve, reject) => {
      // A script's gcloud: never waits on a prompt, prints plain text.
      const child = spawn('gcloud', args, { env: { ...process.env, ...handle.gcloudEnv, CLOUDSDK_CORE_DISABLE_PROMPTS: '1', TERM: 'dumb', ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 90_000);
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(o.stdin ?? '');
    });
  /** What a logged-in caller sends: the sandbox answers 401 without a token it issued. */
  const authorization = () => `Bearer ${issueAccessToken(dir, SANDBOX_ACCOUNT)}`;
  return {
    handle,
    dir,
    gcloud,
    ok: async (args, stdin) => {
      const r = await gcloud(args, { stdin });
      assert.is(r.code, 0, `gcloud ${args.join(' ')}\n${r.stderr}`);
      return r;
    },
    setFaults: async (faults) => void (await control('PUT', 'faults', faults)),
    reset: async () => void (await control('POST', 'reset')),
    dump: async () => (await control('GET', 'state')) as SandboxState,
    requests: async () => ((await control('GET', 'requests')) as { requests: RequestLogEntry[] }).requests.filter((r) => !r.path.startsWith('/__sandbox/')),
    // As a logged-in caller, unless the test sets its own header.
    fetch: (p, init) => {
      const headers = new Headers(init?.headers);
      if (!headers.has('authorization')) headers.set('authorization', authorization());
      return fetch(`${handle.url}${p}`, { ...init, headers });
    },
    get: (pathAndQuery, o = {}) =>
      new Promise((resolve, reject) => {
        const headers = { authorization: authorization(), ...(o.host ? { host: `${o.host}:${handle.port}` } : {}) };
        const req = http.get(`${handle.url}${pathAndQuery}`, { headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`GET ${pathAndQuery}: ${res.statusCode} ${body}`))));
        });
        req.on('error', reject);
      }),
    stop: async () => {
      removeSandboxInfo(dir);
      await handle.stop();
      if (owned) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
