// Shared by the database tests: a throw-away project (config file in a temp dir that reuses the real
// infra data with its own app root and local data folder) and running the real CLI as a subprocess.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const cli = path.join(repoRoot, 'lib/bin/task.ts');

export interface TempProject {
  dir: string;
  config: string;
  stateDir: string;
  cleanup(): void;
}

/** A config in a temp dir: the real infra, with `overrides` (appRoot, localDb…) applied. */
export function tempProject(overrides: { appRoot?: string; localDbDataDir?: string } = {}): TempProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-db-'));
  const config = path.join(dir, 'tasks.config.ts');
  // An ESM project like the real one: without it the config (and the lib it imports) would load as CommonJS.
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const from = (p: string) => JSON.stringify(path.join(repoRoot, p));
  fs.writeFileSync(
    config,
    `import { defineConfig } from ${from('lib/index.js')};
import { infra as base } from ${from('tasks.config.js')};
import { gcpTasks, gcpEnvSchema } from ${from('tasks/index.js')};
import { sandboxVars } from ${from('tasks/shared/env-schema.js')};
const infra = {
  ...base,
  appRoot: ${JSON.stringify(overrides.appRoot ?? path.join(repoRoot, 'sample-app'))},
  localDb: { ...base.localDb, dataDir: ${JSON.stringify(overrides.localDbDataDir ?? 'db-data')} },
};
export default defineConfig({ infra, envSchema: gcpEnvSchema, sandboxVars: (env, sb) => sandboxVars(env, sb, infra), tasks: gcpTasks(infra) });
`,
  );
  const stateDir = path.join(dir, 'state');
  return { dir, config, stateDir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  all: string;
}

/** The environment of a machine with no GCP setup at all: no project, no credentials, no DATABASE_URL. */
export function noCloudEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(GCP_|GOOGLE_|CLOUDSDK_|DATABASE_|DB_LOCAL_|GCP_TASKS_|APP_ROOT$|NODE_ENV$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [cli, ...args], { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, all: stdout + stderr });
    });
  });
}

/** A failed run shown in full, so an assertion message says why. */
export const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** psql with the connection in its environment (PGPASSWORD never in argv). */
export function psql(url: string, sql: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-d', url, '-c', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, all: stdout + stderr }));
  });
}
