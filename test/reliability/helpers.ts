// Shared by the reliability suite: a sandboxed project to run the real CLI against, and a checker that
// holds every cache record against the fake cloud — a record may only exist for work that is really done.
// The checks go through the sandbox's REST API (the shapes gcloud reads), not its internal state.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lintEnvText } from '../../lib/engine/env.js';
import { closure, createGraph } from '../../lib/engine/graph.js';
import config from '../../tasks.config.js';
import { TASK } from '../../tasks/shared/task-names.js';
import { runCli, type CliOptions, type CliResult } from '../helpers/cli.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import type { SnapshotKind } from '../helpers/snapshot.js';

export type Env = 'development' | 'production';

export interface Project {
  sandbox: TestSandbox;
  env: Env;
  /** Runs `pnpm task <args> --sandbox --env <env>` against this project's sandbox. */
  cli(args: string[], opts?: CliOptions): Promise<CliResult>;
  recordsDir(): string;
  /** Task name → recorded outputs, for every cache record present. */
  records(): Map<string, any>;
  envFilePath(): string;
  stop(): Promise<void>;
}

/** A sandboxed project: empty, or a copy of a set-up (or deployed) development project (test/helpers/snapshot.ts). */
export async function sandboxProject(opts: { env?: Env; seed?: number; snapshot?: SnapshotKind } = {}): Promise<Project> {
  const env = opts.env ?? 'production';
  const sandbox = await startTestSandbox({ latencyScale: 0, seed: opts.seed, snapshot: opts.snapshot });
  const recordsDir = () => path.join(sandbox.dir, 'task-state', 'records', `${sandbox.handle.project}.${env}`);
  return {
    sandbox,
    env,
    cli: (args, o = {}) =>
      runCli([...args, '--sandbox', '--env', env], { timeoutMs: 600_000, ...o, env: { GCP_TASKS_SANDBOX_DIR: sandbox.dir, ...o.env } }),
    recordsDir,
    records() {
      const out = new Map<string, any>();
      if (!fs.existsSync(recordsDir())) return out;
      for (const file of fs.readdirSync(recordsDir()).filter((f) => f.endsWith('.json'))) {
        // A record that does not parse is itself a failure: JSON.parse throws and the test reports it.
        const record = JSON.parse(fs.readFileSync(path.join(recordsDir(), file), 'utf8'));
        out.set(record.task, record.outputs);
      }
      return out;
    },
    envFilePath: () => path.join(sandbox.dir, `.env.${env}`),
    stop: () => sandbox.stop(),
  };
}

/** Every task of a full `deploy:all`. */
/** Every task `deploy:all` runs: its dependency closure in the config's own graph, so no list goes stale. */
export const DEPLOY_ALL_TASKS: readonly string[] = [...closure(createGraph(config.tasks), [TASK.deployAll])];

/**
 * Problems found when holding each cache record against the cloud: a record for a task whose work is not
 * (completely) there. Returns [] when every record is true.
 */
export async function falseRecords(p: Project): Promise<string[]> {
  const { project, region } = p.sandbox.handle;
  const get = async (url: string, init?: RequestInit) => {
    const res = await p.sandbox.fetch(url, init);
    return { status: res.status, body: res.status < 300 ? await res.json().catch(() => ({})) : undefined };
  };
  const problems: string[] = [];
  const expect = (ok: boolean, task: string, what: string) => ok || problems.push(`${task}: recorded as done, but ${what}`);

  for (const [task, out] of p.records()) {
    if (task === 'apis:enable') {
      const { body } = await get(`/v1/projects/${project}/services?filter=state:ENABLED&pageSize=200`);
      const enabled = new Set((body?.services ?? []).map((s: any) => s.config?.name));
      for (const api of out.apis) expect(enabled.has(api), task, `${api} is not enabled`);
    } else if (task === 'registry:create') {
      const name = String(out.registry).split('/').pop();
      expect((await get(`/v1/projects/${project}/locations/${region}/repositories/${name}`)).status === 200, task, `repository ${name} does not exist`);
    } else if (task === 'buckets:create') {
      for (const name of Object.values(out.buckets) as string[]) {
        const { status, body } = await get(`/storage/v1/b/${name}`);
        expect(status === 200 && (body?.lifecycle?.rule ?? []).length > 0, task, `bucket ${name} is missing or has no lifecycle rules`);
      }
    } else if (task === 'iam:create') {
      expect((await get(`/v1/projects/-/serviceAccounts/${out.serviceAccount}`)).status === 200, task, `service account ${out.serviceAccount} does not exist`);
      const { body } = await get(`/v1/projects/${project}:getIamPolicy`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      for (const role of out.roles) {
        const binding = (body?.bindings ?? []).find((b: any) => b.role === role);
        expect(!!binding?.members?.includes(`serviceAccount:${out.serviceAccount}`), task, `${role} is not granted`);
      }
    } else if (task === 'secrets:create') {
      for (const { name } of out.secrets) {
        const { status, body } = await get(`/v1/projects/${project}/secrets/${name}/versions`);
        expect(status === 200 && (body?.versions ?? []).length > 0, task, `secret ${name} is missing or has no version`);
      }
    } else if (task === 'sql:create') {
      const { status, body } = await get(`/sql/v1beta4/projects/${project}/instances/${out.instance}`);
      expect(status === 200 && body?.state === 'RUNNABLE', task, `instance ${out.instance} is missing or not RUNNABLE`);
    } else if (task.startsWith('build:')) {
      const [repoPath, digest] = String(out.image).split('@');
      const repo = repoPath!.split('/')[2];
      const { body } = await get(`/v1/projects/${project}/locations/${region}/repositories/${repo}/dockerImages`);
      expect((body?.dockerImages ?? []).some((i: any) => String(i.uri).endsWith(`@${digest}`)), task, `image ${out.image} is not in the registry`);
    } else if (task.startsWith('deploy:') && task !== 'deploy:all') {
      const health = await fetch(`${out.url}/health`).then((r) => r.status, () => 0);
      expect(health === 200, task, `${out.service} does not answer at ${out.url}/health (${health})`);
    }
  }
  return problems;
}

/** An env file the tool wrote must always parse whole: every line a comment or a complete KEY=value. */
export function envFileProblems(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const problems = lintEnvText(text).map((p) => `${path.basename(file)}:${p.line}: ${p.message}`);
  if (text.length && !text.endsWith('\n')) problems.push(`${path.basename(file)} does not end with a newline (cut short?)`);
  for (const line of text.split('\n').filter((l) => /_URL=/.test(l))) {
    if (!/^[A-Z_]+=(https?|wss?):\/\/\S+$/.test(line)) problems.push(`${path.basename(file)}: incomplete URL line "${line}"`);
  }
  return problems;
}

/** Polls a condition until it holds or the bound passes (never a bare sleep as synchronisation). */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${boundMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


export const statusesOf = (r: CliResult): Record<string, string> =>
  Object.fromEntries((JSON.parse(r.stdout).tasks as { name: string; status: string }[]).map((t) => [t.name, t.status]));
