// The one gcloud wrapper. Every gcloud call of every task goes through here: --project/--quiet/--format=json,
// JSON parsing, "not found" as a value, retries of the transient failures gcloud itself does not retry,
// secrets on stdin only and redacted everywhere, a call counter, dry-run enforcement.
//
// Retry policy (measured in shared/reference/gcloud-rest-flows.md §2.2): gcloud already retries 500/503
// five times over ~30 s and network errors for ~28 s, so those are NOT retried again here. It does not
// retry 429 for most APIs, nor an IAM policy etag conflict (two tasks adding bindings at once): those are.
import { access, constants } from 'node:fs/promises';
import { activeAccountFromFiles } from './gcloud-files.js';
import path from 'node:path';
import type { ProcessOutput } from 'zx';
import type { z } from 'zod';
import { UserError } from '../engine/errors.js';
import { groupSpawner } from '../engine/processes.js';
import { redact, registerSecret } from '../engine/redact.js';
import { delay } from '../engine/wait.js';
import type { Logger } from '../engine/types.js';

export type GcloudErrorKind = 'not-found' | 'already-exists' | 'permission' | 'invalid' | 'precondition' | 'transient' | 'timeout' | 'interrupted' | 'missing-cli' | 'unauthenticated' | 'other';

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
  /** The stdin data is a secret: never logged, registered for redaction; gcloud writes no log file. */
  secret?: boolean;
  /** The output is a secret (`secrets versions access`): registered for redaction; gcloud writes no log file. */
  secretOutput?: boolean;
  /** Add --format=json and parse stdout (default true). With false the call resolves to stdout as text. */
  json?: boolean;
  /** Add --project=<project> (default true; false for commands that take the project positionally). */
  project?: boolean;
  /** Per-call timeout; the call is killed and fails with kind 'transient' after it. */
  timeoutMs?: number;
  /**
   * gcloud reads a password with its prompt (`sql users set-password --prompt-for-password`): prompts stay
   * enabled (no --quiet) and gcloud runs in its own session without a controlling terminal, so Python's
   * getpass falls back to reading the line from stdin. Pass the password as `stdin` (with a newline) and `secret: true`.
   */
  passwordPrompt?: boolean;
}

export interface Gcloud {
  /**
   * A read-only call (runs in dry-run too). Resolves to the parsed JSON checked against `schema` (stdout
   * text with {json:false} and a string schema), or `null` when gcloud says the resource is not found or
   * printed nothing. An answer of another shape fails with a GcloudError naming the first mismatch.
   */
  read<S extends z.ZodType>(schema: S, args: string[], opts?: GcloudCallOptions): Promise<z.output<S> | null>;
  /**
   * A mutating call. In dry-run it is logged as `would run: gcloud …` and resolves to undefined. Its answer is
   * checked against `schema` when one is given (a task that uses what gcloud printed), else left unknown.
   * Throws GcloudError (kind 'already-exists', 'permission', …) on failure.
   */
  mutate<S extends z.ZodType>(schema: S, args: string[], opts?: GcloudCallOptions): Promise<z.output<S> | undefined>;
  mutate(args: string[], opts?: GcloudCallOptions): Promise<unknown>;
  /** Number of gcloud processes started by this run (retries included). */
  readonly calls: number;
  /** Number of retries made after transient failures. */
  readonly retries: number;
}

export interface GcloudStats {
  calls: number;
  retries: number;
  /** Every command line run, redacted (the run's record; tests check secrets never appear). */
  commands: string[];
}

export interface GcloudSetup {
  project: string;
  /** Extra environment for gcloud (the sandbox's CLOUDSDK_* settings). */
  env: Record<string, string>;
  dryRun: boolean;
  log: Logger;
  signal: AbortSignal;
  /** Shared by every task of a run. */
  stats: GcloudStats;
  /**
   * Runs before the first gcloud process of the run (default: checkLogin, once per `stats`), so a run that
   * never calls gcloud never checks, and a run that does fails with the login hint before any change.
   */
  ensureLoggedIn?: () => Promise<void>;
}

const loginChecks = new WeakMap<GcloudStats, Promise<void>>();

/** The login check of a run: done once, shared by every task's wrapper. */
function loginCheckOf(setup: GcloudSetup): Promise<void> {
  if (setup.ensureLoggedIn) return setup.ensureLoggedIn();
  let check = loginChecks.get(setup.stats);
  if (!check) {
    check = checkLogin({ ...(process.env as Record<string, string>), ...setup.env });
    loginChecks.set(setup.stats, check);
  }
  return check;
}

const MAX_ATTEMPTS = 5;
const BACKOFF_MS = [500, 1000, 2000, 4000];

export function createGcloud(setup: GcloudSetup): Gcloud {
  const call = async (args: string[], opts: GcloudCallOptions, mutating: boolean, schema?: z.ZodType): Promise<unknown> => {
    const fullArgs = buildArgs(args, opts, setup.project);
    const command = redact(['gcloud', ...fullArgs].map(shellQuote).join(' '));
    if (opts.secret && opts.stdin) registerSecret(opts.stdin);
    if (mutating && setup.dryRun) {
      setup.log.info(`would run: ${command}`);
      return undefined;
    }
    await loginCheckOf(setup);
    for (let attempt = 1; ; attempt++) {
      setup.stats.calls++;
      setup.stats.commands.push(command);
      setup.log.debug(`$ ${command}`);
      const output = await spawnGcloud(fullArgs, opts, setup, command);
      if (output.exitCode === 0) {
        if (opts.secretOutput) registerSecretOutput(output.stdout);
        const value = parseStdout(output.stdout, opts);
        return schema ? checked(schema, value, command) : value;
      }
      const error = toError(output, command, setup.project);
      if (error.kind === 'not-found' && !mutating) return null;
      if (!isRetryable(error, fullArgs) || attempt >= MAX_ATTEMPTS || setup.signal.aborted) throw error;
      setup.stats.retries++;
      const wait = BACKOFF_MS[attempt - 1] * (0.75 + Math.random() / 2);
      setup.log.warn(`gcloud ${fullArgs[0]} ${fullArgs[1] ?? ''}: ${error.message} — retry ${attempt}/${MAX_ATTEMPTS - 1} in ${(wait / 1000).toFixed(1)} s`);
      await delay(wait, setup.signal);
    }
  };
  function mutate(schemaOrArgs: z.ZodType | string[], argsOrOpts?: string[] | GcloudCallOptions, opts?: GcloudCallOptions) {
    const [schema, args, options] = Array.isArray(schemaOrArgs) ? [undefined, schemaOrArgs, argsOrOpts as GcloudCallOptions | undefined] : [schemaOrArgs, argsOrOpts as string[], opts];
    return call(args, options ?? {}, true, schema);
  }
  return {
    // `call` has checked the answer against the schema: it is the schema's output.
    read: <S extends z.ZodType>(schema: S, args: string[], opts: GcloudCallOptions = {}) => call(args, opts, false, schema).then((value) => (value ?? null) as z.output<S> | null),
    mutate: mutate as Gcloud['mutate'],
    get calls() {
      return setup.stats.calls;
    },
    get retries() {
      return setup.stats.retries;
    },
  };
}

/** The answer as the schema types it; another shape is an error naming the first mismatch (never the value: it may be a secret). */
function checked(schema: z.ZodType, value: unknown, command: string): unknown {
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new GcloudError(`unexpected answer: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, 'other', command, 0, '');
}

function buildArgs(args: string[], opts: GcloudCallOptions, project: string): string[] {
  const out = [...args];
  if (opts.project !== false && !out.some((a) => a.startsWith('--project'))) out.push(`--project=${project}`);
  if (opts.json !== false && !out.some((a) => a.startsWith('--format'))) out.push('--format=json');
  if (!opts.passwordPrompt && !out.includes('--quiet') && !out.includes('-q')) out.push('--quiet');
  return out;
}

async function spawnGcloud(args: string[], opts: GcloudCallOptions, setup: GcloudSetup, command: string): Promise<ProcessOutput> {
  // zx is loaded on the first call, so loading a config (which imports GcloudError) stays cheap.
  const { $ } = await import('zx/core');
  // The call's own bound is an abort too: either kills gcloud's whole process group (Python included).
  const deadline = opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined;
  const signal = deadline ? AbortSignal.any([setup.signal, deadline]) : setup.signal;
  const output = await $({
    env: {
      ...process.env,
      ...setup.env,
      CLOUDSDK_CORE_DISABLE_PROMPTS: opts.passwordPrompt ? '0' : '1',
      // Plain text to parse and quote in errors: no bold/colour escapes from a user's terminal type.
      TERM: 'dumb',
      // gcloud copies a command's output and request bodies into its log folder: not for a secret.
      ...(opts.secret || opts.secretOutput ? { CLOUDSDK_CORE_DISABLE_FILE_LOGGING: 'true' } : {}),
    },
    // Its own process group and session: no controlling terminal, so a password prompt reads stdin.
    spawn: groupSpawner(signal),
    input: opts.stdin ?? '',
    signal,
    quiet: true,
    nothrow: true,
    verbose: false,
  })`gcloud ${args}`.catch((error: unknown) => {
    if (signal.aborted) return null;
    throw error;
  });
  if (setup.signal.aborted) throw new GcloudError('interrupted', 'interrupted', command, null, '');
  // A timed-out call is reported as such (never as "not found") and not retried: the caller set the bound.
  if (deadline?.aborted || output === null) {
    throw new GcloudError(`no answer within ${((opts.timeoutMs ?? 0) / 1000).toFixed(0)} s`, 'timeout', command, null, '', 'The API is slow or unreachable; try again, or raise the timeout.');
  }
  return output;
}

function parseStdout(stdout: string, opts: GcloudCallOptions): unknown {
  if (opts.json === false) return stdout;
  const text = stdout.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A secret output (a secret's value, raw or as gcloud's JSON with base64 `payload.data`) is redacted from then on. */
function registerSecretOutput(stdout: string): void {
  const text = stdout.trim();
  if (!text) return;
  registerSecret(text);
  try {
    const data = (JSON.parse(text) as { payload?: { data?: string } }).payload?.data;
    if (data) {
      registerSecret(data);
      registerSecret(Buffer.from(data, 'base64').toString('utf8'));
    }
  } catch {
    // plain text: registered above
  }
}

/** The `ERROR: (gcloud.x.y) message` line(s) gcloud prints. */
function errorText(stderr: string): string {
  const at = stderr.lastIndexOf('ERROR:');
  const text = (at >= 0 ? stderr.slice(at) : stderr.trim().split('\n').slice(-3).join('\n')).trim();
  return text.replace(/^ERROR: \(gcloud[^)]*\)\s*/, '').trim();
}

export function classify(stderr: string, exitCode: number | null): GcloudErrorKind {
  const text = errorText(stderr);
  if (exitCode === 127 || /command not found|ENOENT/.test(text)) return 'missing-cli';
  if (/You do not currently have an active account|Reauthentication|gcloud auth login|refresh.*auth tokens/i.test(text)) return 'unauthenticated';
  if (/does not have permission|PERMISSION_DENIED|or you are not authorized|code=403|HTTPError 403|SERVICE_DISABLED|has not been used in project|or it may not exist/i.test(text)) return 'permission';
  if (/RESOURCE_EXHAUSTED|code=429|Quota exceeded|rateLimitExceeded|HttpError accessing|network connectivity|ConnectionError|Connection refused|timed out|UNAVAILABLE/i.test(text) || exitCode === null) return 'transient';
  if (/ALREADY_EXISTS|already exists|already own it|subject of a conflict.*(already|exists)/i.test(text)) return 'already-exists';
  if (/subject of a conflict|FAILED_PRECONDITION|HTTPError 412|pre-?conditions you specified did not hold|etag|concurrent policy changes|ABORTED/i.test(text)) return 'precondition';
  if (/NOT_FOUND|not found|could not be found|Cannot find|does not exist|No cluster named|Unknown service account/i.test(text)) return 'not-found';
  if (/INVALID_ARGUMENT|Invalid value|invalid choice|unrecognized arguments|is not a valid|must be|argument .* expected/i.test(text) || exitCode === 2) return 'invalid';
  return 'other';
}

function isRetryable(error: GcloudError, args: string[]): boolean {
  if (error.kind === 'transient') return !/HttpError accessing|network connectivity|ConnectionError|Connection refused/i.test(error.stderr);
  // gcloud's own read-modify-write of an IAM policy lost a race with a parallel task: redo it.
  return error.kind === 'precondition' && args.some((a) => /-iam-policy-binding$/.test(a));
}

const HINTS: Partial<Record<GcloudErrorKind, (project: string) => string>> = {
  permission: (p) => `Your account lacks a permission on project ${p} (or the API is disabled): check \`gcloud projects get-iam-policy ${p}\` and that the API is enabled (\`pnpm task apis:enable\`).`,
  transient: () => 'Google Cloud answered with a temporary error after retries; run the task again in a moment.',
  unauthenticated: () => 'Run `gcloud auth login` (and `gcloud auth application-default login`).',
  'missing-cli': () => 'Install the Google Cloud SDK: https://cloud.google.com/sdk/docs/install',
  precondition: () => 'The resource changed while the task ran; run the task again.',
};

function toError(output: ProcessOutput, command: string, project: string): GcloudError {
  const stderr = redact(output.stderr);
  const kind = classify(stderr, output.exitCode);
  const message = redact(errorText(output.stderr)) || `gcloud exited with code ${output.exitCode}`;
  return new GcloudError(message, kind, command, output.exitCode, stderr, HINTS[kind]?.(project));
}

function shellQuote(arg: string): string {
  return /^[-\w./:=@,%+]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}


/** gcloud is on PATH: checked before a run that will call it (costs no process). Throws a UserError naming the fix. */
export async function checkGcloud(env: Record<string, string>): Promise<void> {
  const searchPath = env.PATH ?? process.env.PATH ?? '';
  const found = await Promise.any(
    searchPath.split(path.delimiter).filter(Boolean).map((dir) => access(path.join(dir, 'gcloud'), constants.X_OK)),
  ).then(() => true, () => false);
  if (!found) {
    throw new UserError('gcloud is not installed (not found on PATH).', {
      hint: 'Install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install), then run `gcloud auth login`.',
    });
  }
}

/**
 * gcloud has an active, logged-in account. Read from gcloud's own configuration files when they say so
 * (no process); otherwise gcloud is asked (`gcloud auth list`: it also knows credentials the files do not
 * show, such as a Compute Engine service account). Throws a UserError naming `gcloud auth login`.
 */
export async function checkLogin(env: Record<string, string>): Promise<void> {
  if (await activeAccountFromFiles(env)) return;
  const { execFile } = await import('node:child_process');
  const account = await new Promise<string>((resolve) => {
    execFile('gcloud', ['auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'], { env: { ...process.env, ...env } }, (error, stdout) => resolve(error ? '' : stdout.trim()));
  });
  if (!account) {
    throw new UserError('gcloud is not authenticated: no active account (run `gcloud auth login`).', {
      hint: 'Run `gcloud auth login` (and `gcloud auth application-default login` for local tools), or choose a logged-in account with `gcloud config set account ACCOUNT`.',
    });
  }
}
