// The deploy tests' world: a sandbox (from the setup tests' helper: started in-process and announced to
// the CLI), a private copy of the sample app (APP_ROOT), setup already done, and ways to read back what
// Cloud Run and Artifact Registry hold through the real gcloud.
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import type { EnvName } from '../../../lib/engine/types.js';
import type { RunService } from '../../../tasks/deploy/run-service.js';
import { setupSandbox, show, summary, type CliResult, type SetupSandbox } from '../setup/helpers.js';
import { copySampleApp, type AppCopy } from './app.js';
import type { SnapshotKind } from '../../helpers/snapshot.js';

export { show, summary };

export interface DeployWorld extends SetupSandbox {
  app: AppCopy;
  /** `pnpm task … --sandbox` with APP_ROOT set to the app copy. */
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** `gcloud run services describe` of a service (its Cloud Run name in `env`). */
  service(key: string, env?: EnvName): Promise<any>;
  /** Every service of the environment in one `gcloud run services list`, by key (absent when not deployed). */
  services(env?: EnvName): Promise<Map<string, any>>;
  /** Per service key: digest → tags of its images in Artifact Registry (one listing of the repository). */
  images(env?: EnvName): Promise<Map<string, Map<string, string[]>>>;
  /** Task name → status from a --json run. */
  statuses(r: CliResult): Record<string, string>;
  /** The sandbox folder's env file of an environment. */
  envFilePath(env: EnvName): string;
  close(): Promise<void>;
}

/** `setup` lists the environments set up here, cold; `snapshot` starts from a copy of a set-up project instead. */
export async function deployWorld(opts: { setup?: EnvName[]; snapshot?: SnapshotKind } = {}): Promise<DeployWorld> {
  const s = await setupSandbox({ snapshot: opts.snapshot });
  const app = copySampleApp();
  const run = (args: string[], env: Record<string, string> = {}) => s.task(args, { env: { APP_ROOT: app.root, ...env }, timeoutMs: 240_000 });
  for (const env of opts.setup ?? ['development']) {
    const started = Date.now();
    const r = await run(['setup', `--env=${env}`]);
    assert.is(r.code, 0, show(r));
    console.log(`  (setup --env=${env}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  return {
    ...s,
    app,
    run,
    async service(key, env = 'development') {
      const name = s.infra(env).services.find((x) => x.key === key)!.name;
      return s.json(['run', 'services', 'describe', name, `--region=${s.sandbox.region}`]);
    },
    async services(env = 'development') {
      const list = await s.json<any[]>(['run', 'services', 'list', `--region=${s.sandbox.region}`]);
      const byName = new Map(list.map((x) => [x.metadata.name, x]));
      return new Map(s.infra(env).services.filter((x) => byName.has(x.name)).map((x) => [x.key, byName.get(x.name)]));
    },
    async images(env = 'development') {
      const infra = s.infra(env);
      const list = await s.json<{ package: string; version: string; tags?: string[] | string }[]>(['artifacts', 'docker', 'images', 'list', infra.registry.path, '--include-tags']);
      const tagsOf = (t: string[] | string | undefined) => (Array.isArray(t) ? t : (t ?? '').split(',').filter(Boolean));
      return new Map(infra.services.map((x) => [x.key, new Map(list.filter((i) => i.package === x.image).map((i) => [i.version, tagsOf(i.tags)]))]));
    },
    statuses: (r) => Object.fromEntries(summary(r).tasks.map((t) => [t.name, t.status])),
    envFilePath: (env) => path.join(s.dir, `.env.${env}`),
    async close() {
      app.cleanup();
      await s.stop();
    },
  };
}

/** Plain env values of a described service. */
export function envOf(service: RunService): Record<string, string> {
  const env = service.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

/** Secret-backed env entries of a described service: NAME → secret:version. */
export function secretsOf(service: RunService): Record<string, string> {
  const env = service.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return Object.fromEntries(env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, `${e.valueFrom!.secretKeyRef!.name}:${e.valueFrom!.secretKeyRef!.key}`]));
}

export const imageOf = (service: RunService) => service.spec?.template?.spec?.containers?.[0]?.image ?? '';

/** Revision name → percent, for the revisions serving traffic. */
export function trafficOf(service: RunService): Record<string, number> {
  return Object.fromEntries((service.status?.traffic ?? []).filter((t) => (t.percent ?? 0) > 0).map((t) => [t.revisionName!, t.percent!]));
}

export function readEnvFile(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}
