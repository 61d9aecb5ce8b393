// The setup tests' view of the shared test sandbox: the CLI run against it, the real gcloud to read
// resources back (JSON), the resolved infra to know the names, and the request log to count what a run sent.
import * as assert from 'uvu/assert';
import { resolveInfra, type ResolvedInfra } from '../../../lib/gcp/infra.js';
import type { SandboxHandle } from '../../../lib/sandbox/index.js';
import type { FaultConfig } from '../../../lib/sandbox/faults.js';
import type { EnvName } from '../../../lib/engine/types.js';
import { infra as config } from '../../../tasks.config.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { startTestSandbox } from '../../helpers/sandbox.js';
import { cleanCloudEnv, type SnapshotKind } from '../../helpers/snapshot.js';

export type { CliResult };

export interface SandboxRequest { method: string; host: string; path: string; status: number; injected?: boolean }

// Reads that travel as POST: the projects getIamPolicy call (Resource Manager v1) and IAM permission tests.
const READ_POSTS = /:(getIamPolicy|testIamPermissions)$/;
export const isMutating = (r: SandboxRequest) => r.method !== 'GET' && !READ_POSTS.test(r.path);

export interface SetupSandbox {
  sandbox: SandboxHandle;
  dir: string;
  infra(env?: EnvName): ResolvedInfra;
  /** `pnpm task <args> --sandbox` against this sandbox. */
  task(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  /** The real gcloud against the sandbox (adds --quiet). */
  gcloud(args: string[], stdin?: string): Promise<CliResult>;
  /** gcloud with --format=json; fails the test when gcloud fails. */
  json<T = any>(args: string[]): Promise<T>;
  /** API requests the sandbox answered (control requests excluded). */
  requests(): Promise<SandboxRequest[]>;
  clearRequests(): Promise<void>;
  faults(config: FaultConfig): Promise<void>;
  stop(): Promise<void>;
}

/** A sandbox of an empty project, or of a copy of a set-up (or deployed) one. */
export async function setupSandbox(opts: { snapshot?: SnapshotKind } = {}): Promise<SetupSandbox> {
  const t = await startTestSandbox(opts);
  const sandbox = t.handle;
  const gcloud = (args: string[], stdin?: string) => t.gcloud([...args, '--quiet'], { stdin });
  return {
    sandbox,
    dir: t.dir,
    infra: (env = 'development') => resolveInfra(config, { env, project: sandbox.project, region: sandbox.region, vars: {} }),
    task: (args, opts = {}) => runCli(['--sandbox', ...args], { env: cleanCloudEnv({ GCP_TASKS_SANDBOX_DIR: t.dir, ...opts.env }), timeoutMs: opts.timeoutMs ?? 180_000 }),
    gcloud,
    json: async (args) => {
      const r = await gcloud([...args, '--format=json']);
      assert.is(r.code, 0, `gcloud ${args.join(' ')}\n${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    requests: t.requests,
    clearRequests: async () => {
      const res = await t.fetch('/__sandbox/requests', { method: 'DELETE' });
      assert.ok(res.ok, `clearing the request log: ${res.status}`);
    },
    faults: t.setFaults,
    stop: t.stop,
  };
}

/** Everything a run printed (the summary goes to stdout unless --json, task lines to stderr). */
export const out = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

/** A failed run shown in full, so an assertion message says why. */
export const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The CLI's --json summary (stdout). */
export function summary(r: CliResult): { ok: boolean; gcloud: { calls: number }; tasks: { name: string; status: string; error?: string }[] } {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`no JSON summary on stdout\n${show(r)}`);
  }
}
