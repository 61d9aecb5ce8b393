// CONTRACT (implementation: sandbox owner). Starting, finding and stopping the sandbox.
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { apiModules } from './apis/index.js';
import { sandboxCerts } from './certs.js';
import { faultsFromEnv } from './faults.js';
import type { ApiContext } from './types.js';
import { DEFAULT_PROJECT, DEFAULT_REGION } from './defaults.js';
import { DEFAULT_LATENCY_SCALE, SandboxServer } from './server.js';
import { connectToRunningSandbox, gcloudEnvFor, type SandboxHandle, type SandboxInfoFile, SANDBOX_INFO_FILE } from './connect.js';

export { findRunningSandbox, gcloudEnvFor, SANDBOX_INFO_FILE, type SandboxHandle, type SandboxInfoFile } from './connect.js';

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


/** Uses the sandbox already running for this state folder (started by `pnpm sandbox`), or starts one in-process. */
export async function connectOrStartSandbox(opts: SandboxOptions): Promise<SandboxHandle> {
  return (await connectToRunningSandbox(opts.stateDir)) ?? startSandbox(opts);
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
