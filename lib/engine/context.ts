// Builds what a task sees: the FingerprintContext (pure data, for inputs functions) and the TaskContext
// (zx shell bound to the task, gcloud wrapper, logger, prompt, env file writer, abort signal).
// zx is imported on the first task that actually runs, so fully cached runs and --list never load it.
import * as path from 'node:path';
import type { EnvName, FingerprintContext, Json, Paths, PreflightContext, Prompt, SandboxInfo, TaskArgs, TaskContext, TaskDef } from './types.js';
import type { ResolvedInfra } from '../gcp/infra.js';
import { createGcloud, type GcloudStats } from '../gcp/gcloud.js';
import { createEnvFile } from './envfile.js';
import { UserError } from './errors.js';
import { logFilePath } from './logger.js';
import { groupSpawner } from './processes.js';
import type { TaskRuntime } from './runner.js';

export interface RuntimeSetup {
  env: EnvName;
  vars: Readonly<Record<string, string>>;
  /** Absent for configs without `infra`: reading ctx.infra then throws a clear error. */
  infra?: ResolvedInfra;
  project: string;
  region: string;
  paths: Omit<Paths, 'logFile'>;
  dryRun: boolean;
  verbose: boolean;
  sandbox?: SandboxInfo;
  prompt: Prompt;
  /** Extra environment for gcloud (the sandbox's CLOUDSDK_* settings). */
  gcloudEnv: Record<string, string>;
  /** Shared by every task of the run: the summary prints the totals. */
  gcloudStats: GcloudStats;
  /** Arguments after `--`, given only to the tasks named on the command line. */
  argsFor(task: string): TaskArgs;
}

/** ctx.infra of a config that declares no infrastructure: any use is a readable error, not a crash. */
const noInfra = new Proxy({} as ResolvedInfra, {
  get(_target, key) {
    if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
    throw new UserError(`ctx.infra.${String(key)} was read, but this config declares no \`infra\`.`, {
      hint: 'Add `infra: defineInfra({...})` to the config, or do not read ctx.infra in this task.',
    });
  },
});

let zxModule: Promise<typeof import('zx')> | undefined;

/** The runtime as the CLI uses it: what the runner needs, plus the context of preflight checks. */
export interface CliRuntime extends TaskRuntime {
  preflightContext(task: TaskDef<any>): PreflightContext;
}

export function createRuntime(setup: RuntimeSetup): CliRuntime {
  const infra = setup.infra ?? noInfra;
  const pathsFor = (task: string): Paths => ({ ...setup.paths, logFile: logFilePath(setup.paths.stateDir, task) });
  const envFile = createEnvFile(path.join(setup.paths.envDir, `.env.${setup.env}`));
  const shellEnv = { ...process.env, ...setup.vars };

  return {
    fingerprintContext(task: TaskDef<any>): FingerprintContext {
      return {
        env: setup.env,
        vars: setup.vars,
        infra,
        project: setup.project,
        region: setup.region,
        paths: pathsFor(task.name),
        args: setup.argsFor(task.name),
      };
    },

    preflightContext(task: TaskDef<any>): PreflightContext {
      return { ...this.fingerprintContext(task), sandbox: !!setup.sandbox, envFilePath: envFile.path };
    },

    async context(task, { deps, log, signal, invalidate }): Promise<TaskContext> {
      const { $ } = await (zxModule ??= import('zx'));
      return {
        name: task.name,
        env: setup.env,
        vars: setup.vars,
        infra,
        project: setup.project,
        region: setup.region,
        // The group-kill listener is registered before zx's own, so it runs first on abort.
        $: $({ cwd: setup.paths.root, env: shellEnv, spawn: groupSpawner(signal), signal, quiet: true, verbose: false, log: log.zxLog }),
        gcloud: createGcloud({
          project: setup.project,
          env: setup.gcloudEnv,
          dryRun: setup.dryRun,
          log: log.logger,
          signal,
          stats: setup.gcloudStats,
        }),
        log: log.logger,
        signal,
        deps: deps as Readonly<Record<string, Json | void>>,
        args: setup.argsFor(task.name),
        dryRun: setup.dryRun,
        verbose: setup.verbose,
        sandbox: setup.sandbox,
        prompt: setup.prompt,
        envFile,
        paths: pathsFor(task.name),
        invalidate,
      };
    },
  };
}
