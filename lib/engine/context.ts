// Builds what a task sees: the FingerprintContext (pure data, for inputs functions) and the TaskContext
// (zx shell bound to the task, logger, prompt, env file writer, abort signal), each with the platform's fields.
// zx is loaded when a task first uses ctx.$, so cached runs, --list and tasks that run no command never wait for it.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Shell } from 'zx';
import type { EnvName, FingerprintContext, Json, Paths, PreflightContext, Prompt, TaskArgs, TaskContext, TaskDef } from './types.js';
import { createEnvFile } from './envfile.js';
import { logFilePath } from './logger.js';
import { groupSpawner } from './processes.js';
import type { PlatformRun } from './platform.js';
import type { TaskRuntime } from './runner.js';

export interface RuntimeSetup {
  env: EnvName;
  vars: Readonly<Record<string, string>>;
  /** Where each value of `vars` came from (loadEnv's sources), for messages that name the file to fix. */
  envSources?: Readonly<Record<string, string>>;
  /** The engine's paths, and any the platform adds. */
  paths: { root: string; envDir: string; stateDir: string; [extra: string]: string };
  dryRun: boolean;
  verbose: boolean;
  prompt: Prompt;
  platform: Pick<PlatformRun, 'target' | 'fields' | 'taskFields'>;
  /** Arguments after `--`, given only to the tasks named on the command line. */
  argsFor(task: string): TaskArgs;
  /** `pnpm task <rest>` with the flags that make it act where this run acts (env, config, platform flags). */
  commandFor(task: string, taskArgs?: readonly string[]): string;
}

// zx's ES module is a wrapper of this CommonJS build, so a later `import('zx')` shares its state.
const require = createRequire(import.meta.url);
let zxShell: Shell | undefined;
const loadShell = (): Shell => (zxShell ??= (require('zx/core') as typeof import('zx/core')).$);

/** The runtime as the CLI uses it: what the runner needs, plus the context of preflight checks. */
export interface CliRuntime extends TaskRuntime {
  preflightContext(task: TaskDef): PreflightContext;
}

export function createRuntime(setup: RuntimeSetup): CliRuntime {
  const pathsFor = (task: string): Paths => ({ ...setup.paths, logFile: logFilePath(setup.paths.stateDir, task) } as Paths);
  const envFile = createEnvFile(path.join(setup.paths.envDir, `.env.${setup.env}`));
  const shellEnv = { ...process.env, ...setup.vars };
  const platformFields = setup.platform.fields();
  const computed = new Map<string, unknown>();
  const once = <T>(key: string, compute: () => T): T => {
    if (!computed.has(key)) computed.set(key, compute());
    return computed.get(key) as T;
  };

  const fingerprintContext = (task: TaskDef): FingerprintContext =>
    ({
      ...platformFields,
      env: setup.env,
      vars: setup.vars,
      target: setup.platform.target,
      paths: pathsFor(task.name),
      args: setup.argsFor(task.name),
      once,
    }) as FingerprintContext;

  return {
    fingerprintContext,

    preflightContext(task: TaskDef): PreflightContext {
      return { ...fingerprintContext(task), envFilePath: envFile.path, envSources: setup.envSources ?? {}, commandFor: setup.commandFor } as PreflightContext;
    },

    async context(task, { deps, log, signal, invalidate }): Promise<TaskContext> {
      let shell: Shell | undefined;
      return {
        ...platformFields,
        ...setup.platform.taskFields(task, { log: log.logger, signal, dryRun: setup.dryRun }),
        name: task.name,
        env: setup.env,
        vars: setup.vars,
        target: setup.platform.target,
        // The group-kill listener is registered before zx's own, so it runs first on abort.
        get $() {
          return (shell ??= loadShell()({ cwd: setup.paths.root, env: shellEnv, spawn: groupSpawner(signal), signal, quiet: true, verbose: false, log: log.zxLog }));
        },
        log: log.logger,
        signal,
        deps: deps as Readonly<Record<string, Json | void>>,
        args: setup.argsFor(task.name),
        dryRun: setup.dryRun,
        verbose: setup.verbose,
        prompt: setup.prompt,
        envFile,
        paths: pathsFor(task.name),
        commandFor: setup.commandFor,
        invalidate,
      } as TaskContext;
    },
  };
}
