// Finding the sandbox another process runs for a state folder: its sandbox.json, a live pid and a health
// request. Apart from index.ts so that a run against a running sandbox loads none of its APIs or databases.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { isAlive } from '../engine/processes.js';
import { sandboxCerts } from './certs.js';
import { sandboxConfiguration } from './gcloud-config.js';
import { DEFAULT_PROJECT, DEFAULT_REGION } from './server.js';

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
 * The environment that points a real gcloud at a sandbox on `port`: CLOUDSDK_CONFIG, as on a user's machine
 * (the configuration's own properties reach the sandbox and its account is logged in: gcloud-config.ts), and
 * the sandbox's CA as CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, as a machine behind a TLS-inspecting proxy sets it:
 * that variable, when the machine already sets it, overrides the configuration's property.
 */
export async function gcloudEnvFor(port: number, stateDir: string, project = DEFAULT_PROJECT, region = DEFAULT_REGION): Promise<Record<string, string>> {
  return {
    CLOUDSDK_CONFIG: await sandboxConfiguration({ port, stateDir, project, region }),
    CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE: sandboxCerts(stateDir).caFile,
  };
}

/** The health answer of a sandbox on `port`, or null when none answers in time. (node:http: fetch costs a start-up of its own.) */
function health(port: number): Promise<{ ok?: boolean; stateDir?: string } | null> {
  return new Promise((resolve) => {
    // Its own connection, closed after the answer: no keep-alive socket outlives the check.
    const req = http.get({ host: '127.0.0.1', port, path: '/__sandbox/health', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(body) : null);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
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
  const answer = await health(info.port);
  if (!answer?.ok || path.resolve(answer.stateDir ?? '') !== path.resolve(stateDir)) return null;
  return { pid: info.pid, port: info.port, url: `http://127.0.0.1:${info.port}` };
}

/** A handle on the sandbox already running for this state folder (started by `pnpm sandbox`), or null. */
export async function connectToRunningSandbox(stateDir: string): Promise<SandboxHandle | null> {
  const dir = path.resolve(stateDir);
  const running = await findRunningSandbox(dir);
  if (!running) return null;
  return {
    url: running.url,
    port: running.port,
    project: DEFAULT_PROJECT,
    region: DEFAULT_REGION,
    stateDir: dir,
    gcloudEnv: await gcloudEnvFor(running.port, dir),
    owned: false,
    stop: async () => {},
  };
}
