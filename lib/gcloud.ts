// The one gcloud wrapper (CONTRACT — implementation pending, see issue #4's owner).
// Every gcloud call of every task goes through here: --project/--quiet/--format=json, JSON parsing,
// "not found" as a value, retries of transient failures that gcloud itself does not retry (429, network),
// secrets on stdin only and redacted everywhere, a call counter, dry-run enforcement.
import type { Logger } from './types.js';

export type GcloudErrorKind = 'not-found' | 'already-exists' | 'permission' | 'invalid' | 'precondition' | 'transient' | 'missing-cli' | 'unauthenticated' | 'other';

export class GcloudError extends Error {
  constructor(
    message: string,
    readonly kind: GcloudErrorKind,
    /** The command line, secrets redacted. */
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'GcloudError';
  }
}

export interface GcloudCallOptions {
  /** Data for stdin (e.g. a secret value with --data-file=-). */
  stdin?: string;
  /** The stdin data is a secret: never logged, registered for redaction. */
  secret?: boolean;
  /** Add --format=json and parse stdout (default true). */
  json?: boolean;
  /** Add --project=<project> (default true; false for commands that take the project positionally). */
  project?: boolean;
  /** Per-call timeout; the call is killed and fails with kind 'transient' after it. */
  timeoutMs?: number;
}

export interface Gcloud {
  /** A read-only call (runs in dry-run too). Resolves to parsed JSON, or null when gcloud says the resource is not found. */
  read<T = any>(args: string[], opts?: GcloudCallOptions): Promise<T | null>;
  /**
   * A mutating call. In dry-run it is logged as `would run: gcloud …` and resolves to undefined.
   * Throws GcloudError (kind 'already-exists', 'permission', …) on failure.
   */
  mutate<T = any>(args: string[], opts?: GcloudCallOptions): Promise<T | undefined>;
  /** Number of gcloud processes started by this wrapper (retries included). */
  readonly calls: number;
  /** Number of retries made after transient failures. */
  readonly retries: number;
}

export interface GcloudSetup {
  project: string;
  /** Extra environment for gcloud (the sandbox's CLOUDSDK_* settings). */
  env: Record<string, string>;
  dryRun: boolean;
  log: Logger;
  signal: AbortSignal;
}
