// Google Cloud as the engine's platform: the target is a project and region read from the env values, tasks
// get the resolved infrastructure and a gcloud wrapper, and `--sandbox` points gcloud at the local sandbox
// (its gcloud configuration, project and region) with its own state folder.
import * as path from 'node:path';
import { z } from 'zod';
import { formatPath } from '../engine/config.js';
import { UserError } from '../engine/errors.js';
import type { Platform, PlatformInput, PlatformSession } from '../engine/platform.js';
import type { ConfigDef, EnvName } from '../engine/types.js';
import { checkGcloud, createGcloud, type GcloudStats } from './gcloud.js';
import { resolveInfra, type ResolvedInfra } from './infra.js';
import { closeRestSession, createRestReader, createRestSession, createStorageClient, type RestCaller, type RestSession } from './rest.js';
import { BUCKET_TASKS, bucketRecords, bucketState, configuredState, leaseSeconds, seedSalt, stateUrl } from './state-bucket.js';
import type { GcpTarget } from './types.js';

/** ctx.infra of a config that declares no infrastructure: any use is a readable error, not a crash. */
const noInfra = new Proxy({} as ResolvedInfra, {
  get(_target, key) {
    if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
    throw new UserError(`ctx.infra.${String(key)} was read, but this config declares no \`infra\`.`, {
      hint: 'Add `infra: defineInfra({...})` to the config, or do not read ctx.infra in this task.',
    });
  },
});

/** resolveInfra with every zod issue reported as `infra.sql.tier: …`. */
export function resolveConfigInfra(config: ConfigDef, opts: GcpTarget & { env: EnvName; vars: Readonly<Record<string, string>> }): ResolvedInfra | undefined {
  if (!config.infra) return undefined;
  try {
    return resolveInfra(config.infra, opts);
  } catch (error) {
    if (!(error instanceof z.ZodError)) throw error;
    const lines = error.issues.map((i) => `  - ${formatPath(['infra', ...i.path])}: ${i.message}`);
    throw new UserError(`Invalid infrastructure config for --env ${opts.env}:\n${lines.join('\n')}`, { hint: 'Fix these in tasks.config.ts; nothing was run.' });
  }
}

const sandboxDir = ({ root, processEnv }: PlatformInput) => path.resolve(root, processEnv.GCP_TASKS_SANDBOX_DIR || '.sandbox');

export const gcpPlatform: Platform = {
  flags: [{ name: 'sandbox', help: 'run against the local sandbox (its gcloud configuration, project and region)' }],

  locations(input) {
    const ownStateDir = input.processEnv.GCP_TASKS_STATE_DIR;
    const state = configuredState(input.config, input.processEnv);
    const shared = state ? { shared: stateUrl(state) } : {};
    // The sandbox is its own cloud: its locks live with it, shared by every clone that uses it.
    if (input.flags.sandbox) {
      const dir = sandboxDir(input);
      return { stateDir: ownStateDir ? path.resolve(input.root, ownStateDir) : path.join(dir, 'task-state'), envDir: dir, lockDir: path.join(dir, 'locks'), ...shared };
    }
    return { stateDir: path.resolve(input.root, ownStateDir || '.task-state'), envDir: input.root, ...shared };
  },

  async open(input): Promise<PlatformSession> {
    // A running sandbox is found by its sandbox.json and a health request; its APIs load only to start one here.
    const sandbox = input.flags.sandbox
      ? ((await (await import('../sandbox/connect.js')).connectToRunningSandbox(sandboxDir(input))) ??
        (await (await import('../sandbox/index.js')).startSandbox({ stateDir: sandboxDir(input) })))
      : undefined;
    const sandboxTarget = sandbox && { project: sandbox.project, region: sandbox.region };
    const gcloudEnv = sandbox?.gcloudEnv ?? {};
    let restSession: RestSession | undefined;
    const stateLocation = configuredState(input.config, input.processEnv);
    // The shared state's requests outside any task live as long as the session.
    const sessionAbort = new AbortController();
    return {
      locations: this.locations(input),
      env: sandboxTarget && {
        defaults: input.config.sandboxVars?.(input.env, sandboxTarget),
        forced: { GCP_PROJECT_ID: sandboxTarget.project, GCP_REGION: sandboxTarget.region },
        source: 'the sandbox',
      },
      async start({ vars, planned, verbose }) {
        const project = vars.GCP_PROJECT_ID ?? '';
        const region = vars.GCP_REGION ?? '';
        const infra = resolveConfigInfra(input.config, { env: input.env, project, region, vars });
        const stats: GcloudStats = { calls: 0, retries: 0, commands: [] };
        const rest = (restSession = createRestSession({ ...input.processEnv, ...gcloudEnv }, project));
        const warn = (text: string) => void process.stderr.write(`Warning: ${text}\n`);
        const stateLog = { info() {}, success() {}, warn, error: warn, debug: (t: string) => void (verbose && process.stderr.write(`${t}\n`)), output() {} };
        const stateCaller: RestCaller = { gcloud: createGcloud({ project, env: gcloudEnv, dryRun: false, log: stateLog, signal: sessionAbort.signal, stats }), log: stateLog, signal: sessionAbort.signal };
        // state:init and state:migrate make and fill the bucket: they keep this machine's state.
        const sharesState = stateLocation && !(planned.length && planned.every((t) => BUCKET_TASKS.has(t.name)));
        return {
          target: { project, region },
          key: project,
          paths: { appRoot: path.resolve(input.root, vars.APP_ROOT || infra?.appRoot || '.') },
          state: sharesState ? bucketState(createStorageClient(rest, stateCaller), stateLocation, project, input.env, { leaseSeconds: leaseSeconds(input.processEnv), warn }) : undefined,
          fields: () => ({ infra: infra ?? noInfra, project, region }),
          taskFields: (_task, { log, signal, dryRun }) => {
            const gcloud = createGcloud({ project, env: gcloudEnv, dryRun, log, signal, stats });
            const caller = { gcloud, log, signal };
            const storage = () => createStorageClient(rest, caller);
            const stateBucket = stateLocation && {
              ...stateLocation,
              records: () => bucketRecords(storage(), stateLocation, project, input.env),
              seedSalt: (salt: string) => seedSalt(storage(), stateLocation, salt),
            };
            return { gcloud, rest: createRestReader(rest, caller), stateBucket, sandbox: sandbox && { url: sandbox.url, stateDir: sandbox.stateDir } };
          },
          beforeRun: async () => {
            if (input.config.infra) await checkGcloud({ ...(input.processEnv as Record<string, string>), ...gcloudEnv });
          },
          report: () => ({
            json: { gcloud: { calls: stats.calls, retries: stats.retries }, rest: { ...rest.stats } },
            line: [
              stats.calls ? `gcloud: ${stats.calls} call${stats.calls === 1 ? '' : 's'}, ${stats.retries} retr${stats.retries === 1 ? 'y' : 'ies'}` : '',
              rest.stats.requests ? `REST: ${rest.stats.requests} request${rest.stats.requests === 1 ? '' : 's'}, ${rest.stats.retries} retr${rest.stats.retries === 1 ? 'y' : 'ies'}` : '',
            ].filter(Boolean).join(' · ') || undefined,
          }),
        };
      },
      close: async () => {
        sessionAbort.abort();
        if (restSession) await closeRestSession(restSession);
        if (sandbox?.owned) await sandbox.stop();
      },
    };
  },
};
