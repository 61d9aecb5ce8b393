// CONTRACT (implementation: sandbox owner). Starting, finding and stopping the sandbox.
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { apiModules } from './apis/index.js';
import { sandboxCerts } from './certs.js';
import { sandboxConfiguration } from './gcloud-config.js';
import { faultsFromEnv } from './faults.js';
import type { ApiContext } from './types.js';
import { DEFAULT_LATENCY_SCALE, DEFAULT_PROJECT, DEFAULT_REGION, SandboxServer } from './server.js';
import { isAlive } from '../engine/processes.js';

export interface SandboxOptions {
  /** Folder holding the state (state.json, blobs, embedded databases, gcloud config). */
  stateDir: string;
  /** 0 = any free port. */
  port?: number;
  /** Multiplies every simulated latency (0 = instant; default from SANDBOX_LATENCY_SCALE or 0.01). */
  latencyScale?: number;
  /** Seed for ids and fault injection (SANDBOX_SEED). */
  seed?: number;
}

export interface SandboxHandle {
  url: string;
  port: number;
  project: string;
  region: string;
  stateDir: string;
  /** Environment that points a real gcloud at this sandbox: CLOUDSDK_CONFIG, a logged-in configuration that reaches it. */
  gcloudEnv: Record<string, string>;
  /** True when this process started it (and must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

/** What a running standalone sandbox writes to `<stateDir>/sandbox.json`. */
export interface SandboxInfoFile {
  pid: number;
  port: number;
  url: string;
}

export const SANDBOX_INFO_FILE = 'sandbox.json';

/**
 * The environment that points a real gcloud at a sandbox on `port`: only CLOUDSDK_CONFIG, as on a user's
 * machine. The configuration's own properties reach the sandbox and its account is logged in (gcloud-config.ts).
 */
export async function gcloudEnvFor(port: number, stateDir: string, project = DEFAULT_PROJECT, region = DEFAULT_REGION): Promise<Record<string, string>> {
  return { CLOUDSDK_CONFIG: await sandboxConfiguration({ port, stateDir, project, region }) };
}

function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number (got "${raw}").`);
  return n;
}

const LAST_PORT_FILE = 'last-port';

function readLastPort(stateDir: string): number | undefined {
  try {
    const port = Number(fs.readFileSync(path.join(stateDir, LAST_PORT_FILE), 'utf8'));
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

export async function startSandbox(opts: SandboxOptions): Promise<SandboxHandle> {
  const stateDir = path.resolve(opts.stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  const certs = sandboxCerts(stateDir);
  const server = new SandboxServer({
    stateDir,
    port: opts.port,
    preferredPort: readLastPort(stateDir),
    latencyScale: opts.latencyScale ?? numberFromEnv('SANDBOX_LATENCY_SCALE') ?? DEFAULT_LATENCY_SCALE,
    seed: opts.seed ?? numberFromEnv('SANDBOX_SEED') ?? 1,
    faults: faultsFromEnv(),
    modules: apiModules,
    tls: { key: certs.key, cert: certs.cert },
  });
  const { port, url } = await server.start();
  writeFileAtomic.sync(path.join(stateDir, LAST_PORT_FILE), String(port));
  let gcloudEnv: Record<string, string>;
  try {
    gcloudEnv = await gcloudEnvFor(port, stateDir);
  } catch (error) {
    await server.stop();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const handle: SandboxHandle = {
    url,
    port,
    project: DEFAULT_PROJECT,
    region: DEFAULT_REGION,
    stateDir,
    gcloudEnv,
    owned: true,
    stop: () => (stopped ??= server.stop()),
  };
  servers.set(handle, server);
  return handle;
}

const servers = new WeakMap<SandboxHandle, SandboxServer>();

/** The API context of a sandbox running in this process (tests: seed state the way another API module would). */
export function inProcessContext(handle: SandboxHandle): ApiContext | undefined {
  return servers.get(handle)?.ctx;
}


/** The sandbox named by `<stateDir>/sandbox.json`, when its process is alive and answers its health check. */
export async function findRunningSandbox(stateDir: string): Promise<SandboxInfoFile | null> {
  const file = path.join(path.resolve(stateDir), SANDBOX_INFO_FILE);
  let info: SandboxInfoFile;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxInfoFile;
  } catch {
    return null;
  }
  if (!Number.isInteger(info.pid) || !Number.isInteger(info.port) || !isAlive(info.pid)) return null;
  try {
    const res = await fetch(`http://127.0.0.1:${info.port}/__sandbox/health`, { signal: AbortSignal.timeout(2000) });
    const health = (await res.json()) as { ok?: boolean; stateDir?: string };
    if (!res.ok || !health.ok || path.resolve(health.stateDir ?? '') !== path.resolve(stateDir)) return null;
  } catch {
    return null;
  }
  return { pid: info.pid, port: info.port, url: `http://127.0.0.1:${info.port}` };
}

/** Uses the sandbox already running for this state folder (started by `pnpm sandbox`), or starts one in-process. */
export async function connectOrStartSandbox(opts: SandboxOptions): Promise<SandboxHandle> {
  const stateDir = path.resolve(opts.stateDir);
  const running = await findRunningSandbox(stateDir);
  if (!running) return startSandbox({ ...opts, stateDir });
  return {
    url: running.url,
    port: running.port,
    project: DEFAULT_PROJECT,
    region: DEFAULT_REGION,
    stateDir,
    gcloudEnv: await gcloudEnvFor(running.port, stateDir),
    owned: false,
    stop: async () => {},
  };
}

/** Announces a sandbox to other processes using the same state folder (atomic write). */
export function writeSandboxInfo(handle: Pick<SandboxHandle, 'stateDir' | 'port' | 'url'>, pid = process.pid): void {
  const file = path.join(handle.stateDir, SANDBOX_INFO_FILE);
  const info: SandboxInfoFile = { pid, port: handle.port, url: handle.url };
  writeFileAtomic.sync(file, JSON.stringify(info));
}

/** Removes the announcement, if it is this process's. */
export function removeSandboxInfo(stateDir: string, pid = process.pid): void {
  const file = path.join(stateDir, SANDBOX_INFO_FILE);
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxInfoFile;
    if (info.pid === pid) fs.rmSync(file, { force: true });
  } catch {
    // absent or unreadable: nothing of ours to remove
  }
}
