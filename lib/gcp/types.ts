// What the Google Cloud layer adds to the engine's contexts and config, by declaration merging: every task
// of a config that uses this layer finds the resolved infrastructure, the project and region, and the one
// gcloud wrapper in its context (filled by platform.ts).
import type { RecordStore } from '../engine/cache.js';
import type { Gcloud } from './gcloud.js';
import type { InfraConfig, ResolvedInfra } from './infra.js';
import type { RestReader } from './rest.js';
import type { StateLocation } from './state-bucket.js';

export interface GcpTarget {
  project: string;
  region: string;
}

declare module '../engine/types.js' {
  interface FingerprintContext extends GcpTarget {
    /** Every resource name, already resolved for the environment. */
    infra: ResolvedInfra;
  }
  interface TaskContext extends GcpTarget {
    infra: ResolvedInfra;
    /** The one gcloud wrapper, bound to this task's log and abort signal. */
    gcloud: Gcloud;
    /** Read-only queries straight to the REST APIs (one token and connection pool per run). */
    rest: RestReader;
    /** The bucket shared state is kept in (config `state` or GCP_TASKS_STATE); undefined with local state. */
    stateBucket?: StateLocation & { records(): RecordStore; seedSalt(salt: string): Promise<boolean> };
  }
  interface Paths {
    /** The application monorepo (APP_ROOT or infra.appRoot). */
    appRoot: string;
  }
  interface ConfigDef {
    /** The infrastructure as typed data (see infra.ts). Optional so that plain task configs work. */
    infra?: InfraConfig;
    /**
     * Env values used with --sandbox when no file or process variable sets them (a sandbox run needs no .env).
     * GCP_PROJECT_ID and GCP_REGION are then always the sandbox's own.
     */
    sandboxVars?: (env: EnvName, sandbox: GcpTarget) => Record<string, string>;
    /**
     * Keep records, salt and lock in this Cloud Storage bucket (made by `state:init`), shared by every clone
     * and CI runner, instead of .task-state/. GCP_TASKS_STATE=gs://bucket/prefix overrides it.
     */
    state?: { bucket: string; prefix?: string };
  }
}
