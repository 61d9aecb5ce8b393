// The contract between the engine, the task definitions and user configs. Everything a task can see or do
// goes through TaskContext; everything a config declares is a TaskDef.
// The engine knows no cloud: a platform layer adds its own fields to FingerprintContext, TaskContext,
// ConfigDef and Paths by declaration merging (`declare module '…/engine/types.js'`) and fills them at run
// time through the Platform interface (platform.ts).
import type { Shell } from 'zx';
import type { z } from 'zod';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type EnvName = 'development' | 'production';

/** Arguments given after `--` to the tasks named on the command line: `--to=rev` → { to: 'rev' }, `--yes` → { yes: true }. */
export type TaskArgs = Record<string, string | boolean>;

export interface TaskInputs {
  /** Globs (relative to the config's root dir, or absolute) whose file contents are part of the fingerprint. */
  files?: string[] | ((ctx: FingerprintContext) => string[]);
  /** Env keys whose values (hashed, never stored raw) are part of the fingerprint. */
  env?: string[];
  /** Config values the task depends on (a slice of the resolved config); part of the fingerprint. */
  config?: (ctx: FingerprintContext) => Json;
}

/** What an inputs function can look at: no cloud, no side effects. */
export interface FingerprintContext {
  env: EnvName;
  vars: Readonly<Record<string, string>>;
  /** Where the run acts besides the environment (the platform's choice, e.g. a project and region). */
  target: Readonly<Record<string, string>>;
  paths: Paths;
  args: TaskArgs;
  /**
   * The value of `compute`, computed once per run for `key` and shared by every preflight and inputs function
   * that asks for the same key (a listing of files that several checks read, say).
   */
  once<T>(key: string, compute: () => T): T;
}

/** What a preflight check can look at: the fingerprint data plus where the run points. */
export interface PreflightContext extends FingerprintContext {
  /** The env file of this environment (`.env.<env>` in paths.envDir), to name in messages. */
  envFilePath: string;
  /** Where each value of `vars` came from: an env file's name (`.env.production.local`), `the environment`, or the platform. */
  envSources: Readonly<Record<string, string>>;
  /** `pnpm task <rest>` with the flags that target what this run targets (for hints). */
  commandFor(task: string, taskArgs?: readonly string[]): string;
}

export interface TaskDef<Out extends Json | void = Json | void> {
  /** `group:verb` by convention, e.g. `buckets:create`, `deploy:api-gateway`. */
  name: string;
  description: string;
  deps?: string[];
  inputs?: TaskInputs;
  /**
   * Never cached: read-only reports (status, list, cost), start/stop, anything destructive.
   * Such a task runs every time it is part of the plan.
   */
  always?: boolean;
  /** A failed run keeps the record of the last success (for tasks whose failure leaves the cloud as it was), so going back to its inputs is cached. */
  keepRecordOnFailure?: boolean;
  /**
   * Destructive tasks must confirm on a TTY and refuse without `--yes` when there is none.
   * The task itself calls ctx.prompt.confirm(...) with the details; the flag lets the CLI
   * refuse early (before any cloud call) when there is no TTY and no --yes.
   * A function decides from the task's arguments (e.g. `cleanup -- --dry-run` only shows its plan).
   */
  destructive?: boolean | ((args: TaskArgs) => boolean);
  /** Needs the terminal for questions (cleanup menus): the runner switches to the line renderer. */
  interactive?: boolean;
  /** Documented arguments (after `--`): name → description. Unknown args are a usage error (exit 2). */
  args?: Record<string, string>;
  /** Tasks whose cache entries become invalid when this task succeeds (delete/cleanup/enable-one). */
  invalidates?: string[] | ((ctx: TaskContext, outputs: Json | void) => string[]);
  /**
   * Checks made before anything runs — before the lock, the platform's checks or any task — for every planned task,
   * cached or not, in dry-run too: bad arguments (throw UsageError: exit 2) and settings the task must refuse
   * (throw UserError: exit 1). It may read files but must change nothing and never call the cloud.
   */
  preflight?: (ctx: PreflightContext) => void | Promise<void>;
  /** Optional cheap live probe: with --refresh a cached task whose check returns false runs again. */
  check?: (ctx: TaskContext) => Promise<boolean>;
  /** Hidden from --list unless --all (helpers, grouping tasks still show). */
  hidden?: boolean;
  /**
   * Needs no cloud (db:local, db:stop): a run made only of local tasks skips the platform's checks and the
   * env validation.
   * A function decides from the task's arguments and the environment (db:migrate: only `--target=cloud`,
   * the production default, needs the cloud).
   */
  local?: boolean | ((args: TaskArgs, env: EnvName) => boolean);
  run: (ctx: TaskContext) => Promise<Out>;
}

export interface Paths {
  /** Directory of the config file: globs, env files and state are relative to it. */
  root: string;
  /** Where `.env*` files are read and where tasks write values back (the platform may move it). */
  envDir: string;
  /** `.task-state/` (cache records, logs, lock). */
  stateDir: string;
  /** This task's log file. */
  logFile: string;
}

export interface Logger {
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Only shown with --verbose, always written to the log file. */
  debug(message: string): void;
  /** A block of lines shown under the task (and in the log): tables, summaries. */
  output(text: string): void;
  /**
   * Text for the process's stdout, exactly as given (pipe-friendly output such as `list`); the UI stays on
   * stderr. Optional: when the engine does not provide it, tasks write to process.stdout themselves.
   */
  stdout?(text: string): void;
}

export interface Prompt {
  /** True when stdin and stderr are a TTY. */
  readonly isTTY: boolean;
  /** --yes was given. */
  readonly yes: boolean;
  /**
   * Asks a yes/no question. Returns true at once with --yes; throws a UserError telling the user to
   * pass --yes when there is no TTY. Default answer is No.
   */
  confirm(question: string): Promise<boolean>;
  /** Asks for a line of text (e.g. typing `DELETE ALL`). Throws UserError without a TTY. */
  input(question: string): Promise<string>;
}

export interface EnvFile {
  /** Path of `.env.<env>` in paths.envDir. */
  readonly path: string;
  /** Sets KEY=value in `.env.<env>`: only that line changes, comments and order kept, atomic write, file created when missing. */
  set(entries: Record<string, string>): Promise<void>;
}

export interface TaskContext {
  name: string;
  env: EnvName;
  /** Validated env values (from files + process env), `${SECRET_*}` placeholders removed. */
  vars: Readonly<Record<string, string>>;
  /** Where the run acts besides the environment (see FingerprintContext.target). */
  target: Readonly<Record<string, string>>;
  /** zx shell bound to this task: cwd = paths.root, env = process env + vars, output to the task log, abort signal. */
  $: Shell;
  log: Logger;
  signal: AbortSignal;
  /** Outputs of the direct dependencies, by task name. */
  deps: Readonly<Record<string, Json | void>>;
  args: TaskArgs;
  dryRun: boolean;
  verbose: boolean;
  prompt: Prompt;
  envFile: EnvFile;
  paths: Paths;
  /** `pnpm task <rest>` with the flags that target what this run targets (`--env`, `--config`, `--sandbox`): for next-step hints. */
  commandFor(task: string, taskArgs?: readonly string[]): string;
  /** Drop cache records (e.g. after deleting the resource they describe). */
  invalidate(taskNames: string[]): Promise<void>;
}

export interface ConfigDef {
  /** Tasks in declaration order (also the order of --list). */
  tasks: TaskDef[];
  /** Validates env values before anything runs (every problem reported at once). */
  envSchema?: z.ZodType<Record<string, string>>;
  /** Default concurrency (-j). */
  concurrency?: number;
}
