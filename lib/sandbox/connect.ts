// Finding and using a sandbox that is already running (`pnpm sandbox`): read its sandbox.json, ask its health
// endpoint, and point gcloud at it. Kept apart from the server so a client pays for neither the server's code
// nor its API modules; starting a sandbox in-process loads them only then.
import fs from 'node:fs';
import path from 'node:path';
import { sandboxCerts } from './certs.js';
import { isAlive } from '../engine/processes.js';
import type { SandboxHandle, SandboxOptions } from './index.js';

export const DEFAULT_PROJECT = 'digitwin-sandbox';
export const DEFAULT_REGION = 'us-central1';

/** What a running standalone sandbox writes to `<stateDir>/sandbox.json`. */
export interface SandboxInfoFile {
  pid: number;
  port: number;
  url: string;
}

export const SANDBOX_INFO_FILE = 'sandbox.json';

/** APIs gcloud reaches on the sandbox's own address (Cloud Run needs a non-resolving host: see gcloudEnvFor). */
const OVERRIDDEN_APIS = ['SERVICEUSAGE', 'ARTIFACTREGISTRY', 'STORAGE', 'SQL', 'IAM', 'CLOUDRESOURCEMANAGER', 'SECRETMANAGER', 'CLOUDBUILD', 'CONTAINER', 'MONITORING', 'LOGGING'];

/**
 * The environment that points a real gcloud at a sandbox on `port`. gcloud is also given the sandbox as its
 * HTTP proxy: Cloud Run's endpoint becomes `<region>-run.sandbox`, a name that only resolves through the proxy,
 * and the hard-wired https://storage.googleapis.com log URL of Cloud Build reaches the sandbox (TLS terminated
 * with the sandbox's own CA).
 */
export function gcloudEnvFor(port: number, stateDir: string, project = DEFAULT_PROJECT, region = DEFAULT_REGION): Record<string, string> {
  const configDir = path.join(stateDir, 'gcloud-config');
  fs.mkdirSync(configDir, { recursive: true });
  const root = `http://127.0.0.1:${port}/`;
  const env: Record<string, string> = {
    CLOUDSDK_CONFIG: configDir,
    CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true',
    CLOUDSDK_CORE_PROJECT: project,
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    CLOUDSDK_CORE_DISABLE_PROMPTS: 'true',
    CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API: 'false',
    CLOUDSDK_RUN_REGION: region,
    TERM: 'dumb',
  };
  for (const api of OVERRIDDEN_APIS) env[`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api}`] = root;
  env.CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN = `http://run.sandbox:${port}/`;
  env.CLOUDSDK_AUTH_TOKEN_HOST = `${root}token`;
  env.CLOUDSDK_PROXY_TYPE = 'http';
  env.CLOUDSDK_PROXY_ADDRESS = '127.0.0.1';
  env.CLOUDSDK_PROXY_PORT = String(port);
  env.CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE = sandboxCerts(stateDir).caFile;
  return env;
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
  if (!running) return (await import('./index.js')).startSandbox({ ...opts, stateDir });
  return {
    url: running.url,
    port: running.port,
    project: DEFAULT_PROJECT,
    region: DEFAULT_REGION,
    stateDir,
    gcloudEnv: gcloudEnvFor(running.port, stateDir),
    owned: false,
    stop: async () => {},
  };
}
