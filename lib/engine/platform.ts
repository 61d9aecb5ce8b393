// What the engine asks of the world its tasks act on (a cloud, a cluster, nothing at all). The engine plans,
// fingerprints, locks and runs; a platform says where state and env files live, which target a run acts on,
// and which fields its tasks find in their context. The CLI is given one platform by its entry point.
import type { ConfigDef, EnvName, Json, Logger, TaskDef } from './types.js';
import type { RecordStore } from './cache.js';
import type { Lock } from './lock.js';

/** A boolean command-line flag the platform adds (e.g. `--sandbox`). */
export interface PlatformFlag {
  name: string;
  help: string;
}

export interface PlatformInput {
  config: ConfigDef;
  /** The config's folder. */
  root: string;
  env: EnvName;
  /** The platform's own flags, by name (without dashes). */
  flags: Readonly<Record<string, boolean>>;
  processEnv: NodeJS.ProcessEnv;
}

/** Where a run keeps its state and reads its env files. */
export interface Locations {
  stateDir: string;
  envDir: string;
  /** Where lock files live; default: a per-user folder, so every clone on the machine shares it. */
  lockDir?: string;
  /** Set when records and lock are the platform's shared state (named, e.g. `gs://bucket/prefix`), not the state folder's. */
  shared?: string;
}

/** Env values the platform supplies: defaults below every file, forced ones above everything. */
export interface EnvOverlay {
  defaults?: Record<string, string>;
  forced?: Record<string, string>;
  /** Named in messages as the origin of these values. */
  source: string;
}

export interface RunInput {
  vars: Readonly<Record<string, string>>;
  /** A run made only of tasks that need no platform (local tasks): nothing of the platform is checked. */
  local: boolean;
  dryRun: boolean;
  verbose: boolean;
  planned: readonly TaskDef[];
}

/** State kept by the platform instead of the local folder, shared by every clone and CI runner using it. */
export interface SharedState {
  /** Named in messages (e.g. `gs://bucket/prefix`). */
  where: string;
  records: RecordStore;
  lock: Lock;
}

/** The platform's part of one run, once the env values are known. */
export interface PlatformRun {
  /** What the run acts on besides the environment: part of every fingerprint, shown in the summary. */
  target: Record<string, string>;
  /** Names the target in state: records and the lock are kept per key + environment. */
  key: string;
  /** Extra paths tasks find in ctx.paths (e.g. the application's folder). */
  paths?: Record<string, string>;
  /** Fields added to fingerprint, preflight and task contexts. */
  fields(): object;
  /** Fields added to a running task's context (clients bound to the task's log and abort signal). */
  taskFields(task: TaskDef, parts: { log: Logger; signal: AbortSignal; dryRun: boolean }): object;
  /** Checks made after the preflights and before the lock, when the run will act (not for dry runs). */
  beforeRun(): Promise<void>;
  /** Records, salt and lock of this target + environment, when the platform keeps them (else the local folder). */
  state?: SharedState;
  /** Figures for the summary and --json (e.g. `{ gcloud: { calls, retries } }`), and their summary line. */
  report(): { json: Record<string, Json>; line?: string };
}

export interface PlatformSession {
  locations: Locations;
  env?: EnvOverlay;
  /** Called with the loaded, validated env values. */
  start(input: RunInput): Promise<PlatformRun>;
  close(): Promise<void>;
}

export interface Platform {
  flags: readonly PlatformFlag[];
  /** Where state lives, without starting anything (for --clear-cache and the lock). */
  locations(input: PlatformInput): Locations;
  /** Prepares a run: may start helpers (e.g. a local emulator), closed by `close()`. */
  open(input: PlatformInput): Promise<PlatformSession>;
}
