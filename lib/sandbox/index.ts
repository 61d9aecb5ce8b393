// CONTRACT (implementation: sandbox owner). Starting, finding and stopping the sandbox.
export interface SandboxOptions {
  /** Folder holding the state (state.json, blobs, embedded databases, gcloud config). */
  stateDir: string;
  /** 0 = any free port. */
  port?: number;
  /** Multiplies every simulated latency (0 = instant; default from SANDBOX_LATENCY_SCALE or 0.05). */
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
  /** Environment that points a real gcloud at this sandbox (own CLOUDSDK_CONFIG, overrides, proxy, credentials disabled). */
  gcloudEnv: Record<string, string>;
  /** True when this process started it (and must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

export declare function startSandbox(opts: SandboxOptions): Promise<SandboxHandle>;
/** Uses the sandbox already running for this state folder (started by `pnpm sandbox`), or starts one in-process. */
export declare function connectOrStartSandbox(opts: SandboxOptions): Promise<SandboxHandle>;
