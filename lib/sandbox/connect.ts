// Finding the sandbox another process runs for a state folder: its sandbox.json, a live pid and a health
// request. Apart from index.ts so that a run against a running sandbox loads none of its APIs or databases.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { UserError } from '../engine/errors.js';
import { isAlive } from '../engine/processes.js';
import { pollUntil } from '../engine/wait.js';
import { sandboxCerts } from './certs.js';
import { sandboxConfiguration } from './gcloud-config.js';
import { DEFAULT_PROJECT, DEFAULT_REGION } from './defaults.js';

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

type Health = { ok?: boolean; stateDir?: string } | 'refused' | 'no answer';

/**
 * The health answer of a sandbox on `port`: its JSON, 'refused' when nothing listens there, 'no answer' when
 * something listens but did not answer in time (a busy sandbox). (node:http: fetch costs a start-up of its own.)
 */
function health(port: number): Promise<Health> {
  return new Promise((resolve) => {
    // Its own connection, closed after the answer: no keep-alive socket outlives the check.
    const req = http.get({ host: '127.0.0.1', port, path: '/__sandbox/health', timeout: HEALTH_TIMEOUT_MS, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(body) : {});
        } catch {
          resolve({});
        }
      });
      res.on('error', () => resolve('no answer'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'no answer'));
  });
}

const HEALTH_TIMEOUT_MS = 2000;
/** How long a sandbox that is alive but busy gets to answer before the run gives up on it. */
const BUSY_SANDBOX_MS = 20_000;

/**
 * The sandbox named by `<stateDir>/sandbox.json`, when its process is alive and answers its health check; null
 * when there is none (no file, a dead pid, nothing listening, another folder's sandbox). A live sandbox that
 * stays silent is an error, not a reason to start a second one over the same state.
 */
export async function findRunningSandbox(stateDir: string, opts: { busyMs?: number } = {}): Promise<SandboxInfoFile | null> {
  const busyMs = opts.busyMs ?? BUSY_SANDBOX_MS;
  const file = path.join(path.resolve(stateDir), SANDBOX_INFO_FILE);
  let info: SandboxInfoFile;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxInfoFile;
  } catch {
    return null;
  }
  if (!Number.isInteger(info.pid) || !Number.isInteger(info.port) || !isAlive(info.pid)) return null;
  const answer = await pollUntil(async () => {
    const h = await health(info.port);
    return h === 'no answer' && isAlive(info.pid) ? false : h;
  }, {
    timeoutMs: busyMs,
    intervalMs: 250,
    onTimeout: () =>
      new UserError(`The sandbox running for ${stateDir} (pid ${info.pid}, port ${info.port}) did not answer for ${busyMs / 1000} s.`, {
        hint: `It may be overloaded: try again, or stop it (kill ${info.pid}) and rerun.`,
      }),
  });
  if (typeof answer === 'string' || !answer.ok || path.resolve(answer.stateDir ?? '') !== path.resolve(stateDir)) return null;
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
