// The user's path, end to end: `pnpm task` WITHOUT --sandbox, gcloud configured only as on a user's machine
// (CLOUDSDK_CONFIG: a logged-in configuration whose endpoints reach a running sandbox), the project and region
// from an env file. setup, deploy:all, status, sql:stop/sql:start and cleanup run there and their results
// are read back with gcloud. A recorder in front of gcloud (it logs argv, then runs the real gcloud) counts
// the calls: a fully cached deploy:all makes none. A configuration without an active account gets the login
// error, and gcloud was asked. After setup no file holds a secret value, plain or base64.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { resolveInfra } from '../../lib/gcp/infra.js';
import { infra as infraConfig } from '../../tasks.config.js';
import { sandboxVars } from '../../tasks/shared/env-schema.js';
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const test = gcloudTests('the user-path end-to-end test');

let sb: TestSandbox;
let work: string;
let record: string;
const SECRETS = {
  SECRET_VALUE_JWT_SECRET: 'e2e-jwt-Qx7vLp2m9ZtR',
  SECRET_VALUE_REFRESH_SECRET: 'e2e-refresh-Hs4kW8nB3yVd',
  SECRET_VALUE_DATABASE_PASSWORD: 'e2e-dbpass-Jc6tF1rM5gXe',
};

/** A gcloud on PATH that logs its arguments, then runs the real one. */
function recorderBin(dir: string, realGcloud: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'gcloud'), `#!/bin/sh\nprintf '%s\\n' "$*" >> "$GCLOUD_RECORD"\nexec ${JSON.stringify(realGcloud)} "$@"\n`, { mode: 0o755 });
  return bin;
}

const recorded = () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean) : []);

/** The environment of a machine with only this project's settings: no GCP variable but CLOUDSDK_CONFIG. */
function userEnv(configDir: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (/^(GCP_|GOOGLE_|CLOUDSDK_|DATABASE_|SECRET_VALUE_)/.test(key)) env[key] = undefined;
  const realGcloud = spawnSync('which', ['gcloud'], { encoding: 'utf8' }).stdout.trim();
  return {
    ...env,
    ...SECRETS,
    CLOUDSDK_CONFIG: configDir,
    PATH: `${recorderBin(work, realGcloud)}${path.delimiter}${process.env.PATH}`,
    GCLOUD_RECORD: record,
    GCP_TASKS_STATE_DIR: path.join(work, 'task-state'),
    DOCKER_CONFIG: path.join(work, 'docker'), // configure-docker, if docker is installed, writes here
    APP_ROOT: path.join(work, 'app'),
  };
}

const task = (args: string[], configDir = sb.handle.gcloudEnv.CLOUDSDK_CONFIG!) =>
  runCli(['--config', path.join(work, 'tasks.config.ts'), ...args], { env: userEnv(configDir), timeoutMs: 600_000 });

const show = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const summary = (r: CliResult) => JSON.parse(r.stdout) as { gcloud: { calls: number }; tasks: { name: string; status: string }[] };
const infra = () => resolveInfra(infraConfig, { env: 'development', project: sb.handle.project, region: sb.handle.region, vars: {} });

test.before(async () => {
  sb = await startTestSandbox();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-e2e-'));
  record = path.join(work, 'gcloud-calls.txt');
  // The project as a user has it: a config, an env file with the project and region, the app's source.
  fs.writeFileSync(path.join(work, 'tasks.config.ts'), `export { default } from ${JSON.stringify(path.join(repoRoot, 'tasks.config.ts'))};\n`);
  fs.writeFileSync(path.join(work, '.env'), `GCP_PROJECT_ID=${sb.handle.project}\nGCP_REGION=${sb.handle.region}\n`);
  const vars = sandboxVars('development', sb.handle, infraConfig);
  fs.writeFileSync(path.join(work, '.env.development'), Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  fs.cpSync(path.join(repoRoot, 'sample-app'), path.join(work, 'app'), { recursive: true, filter: (src) => !src.includes('node_modules') });
});

test.after(async () => {
  await sb?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('a configuration without an active account: the login error, after asking gcloud; nothing touched', async () => {
  const loggedOut = path.join(work, 'logged-out');
  fs.mkdirSync(path.join(loggedOut, 'configurations'), { recursive: true });
  fs.writeFileSync(path.join(loggedOut, 'active_config'), 'default');
  fs.writeFileSync(path.join(loggedOut, 'configurations', 'config_default'), '[core]\ndisable_usage_reporting = true\n');
  // status reports every query it could not make, each naming the fix; gcloud is asked once for the run.
  const status = await task(['status'], loggedOut);
  assert.match(status.stderr + status.stdout, 'gcloud is not authenticated: no active account (run `gcloud auth login`)', show(status));
  assert.equal(recorded(), ['auth list --filter=status:ACTIVE --format=value(account)'], 'gcloud was asked, once, and nothing else');
  // A task that changes things fails before its first gcloud call.
  fs.rmSync(record, { force: true });
  const r = await task(['apis:enable'], loggedOut);
  assert.is.not(r.code, 0, show(r));
  assert.match(r.stderr + r.stdout, 'gcloud auth login');
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(recorded(), ['auth list --filter=status:ACTIVE --format=value(account)'], 'only the login check ran');
  assert.equal((await sb.requests()).filter((q) => q.method !== 'GET'), [], 'no request changed anything');
});

test('setup on the user path creates the resources; no file holds a secret value', async () => {
  fs.rmSync(record, { force: true });
  const started = Date.now();
  const r = await task(['setup', '--json']);
  assert.is(r.code, 0, show(r));
  const calls = recorded().length;
  console.log(`  measured: setup on the user path: ${summary(r).gcloud.calls} gcloud calls by the wrapper, ${calls} gcloud processes recorded, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  assert.ok(recorded().every((line) => !line.startsWith('auth list')), 'a logged-in configuration is read, not asked');
  const { sql, buckets } = infra();
  const instance = JSON.parse((await sb.ok(['sql', 'instances', 'describe', sql.instance, '--format=json'])).stdout);
  assert.is(instance.state, 'RUNNABLE');
  const listed = (await sb.ok(['storage', 'buckets', 'list', '--format=value(name)'])).stdout.split('\n');
  for (const b of buckets) assert.ok(listed.includes(b.name), b.name);

  const roots = [sb.handle.gcloudEnv.CLOUDSDK_CONFIG!, sb.dir, work];
  const needles = Object.values(SECRETS).flatMap((v) => [['plain', v], ['base64', Buffer.from(v).toString('base64')]] as const);
  const leaks: string[] = [];
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      if (p.endsWith('node_modules')) return;
      for (const f of fs.readdirSync(p)) walk(path.join(p, f));
    } else if (st.isFile() && st.size < 50_000_000) {
      const text = fs.readFileSync(p).toString('latin1');
      for (const [form, n] of needles) if (text.includes(n)) leaks.push(`${p} holds a ${form} secret`);
    }
  };
  // The sandbox's own state is Secret Manager's storage (it must hold the values); everything else must not.
  for (const root of roots) walk(root);
  const outside = leaks.filter((l) => !l.startsWith(path.join(sb.dir, 'state.json')) && !l.includes(`${path.sep}sql${path.sep}`));
  assert.equal(outside, [], outside.join('\n'));
  assert.ok(fs.readdirSync(path.join(sb.handle.gcloudEnv.CLOUDSDK_CONFIG!, 'logs')).length > 0, 'gcloud did write its logs (the check looked at them)');
});

test('deploy:all on the user path: the services answer; a fully cached run makes no gcloud call', async () => {
  let started = Date.now();
  const r = await task(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  console.log(`  measured: deploy:all on the user path: ${summary(r).gcloud.calls} gcloud calls, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const services = JSON.parse((await sb.ok(['run', 'services', 'list', `--region=${sb.handle.region}`, '--format=json'])).stdout) as { metadata: { name: string }; status: { url: string } }[];
  assert.equal(services.map((s) => s.metadata.name).sort(), infra().services.map((s) => s.name).sort());
  const token = (await sb.ok(['auth', 'print-identity-token'])).stdout.trim();
  for (const s of services) {
    const res = await fetch(`${s.status.url}/health`, { headers: { authorization: `Bearer ${token}` } });
    assert.is(res.status, 200, s.metadata.name);
  }

  fs.rmSync(record, { force: true });
  started = Date.now();
  const cached = await task(['deploy:all', '--json']);
  assert.is(cached.code, 0, show(cached));
  assert.is(summary(cached).gcloud.calls, 0);
  assert.equal(recorded(), [], 'no gcloud process, not even a login check');
  console.log(`  measured: fully cached deploy:all on the user path: 0 gcloud processes, ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('status, sql:stop and sql:start on the user path', async () => {
  const status = await task(['status']);
  assert.is(status.code, 0, show(status));
  const { sql } = infra();
  const policy = async () => JSON.parse((await sb.ok(['sql', 'instances', 'describe', sql.instance, '--format=json'])).stdout).settings.activationPolicy;
  const stop = await task(['sql:stop', '--yes']);
  assert.is(stop.code, 0, show(stop));
  assert.is(await policy(), 'NEVER');
  const start = await task(['sql:start']);
  assert.is(start.code, 0, show(start));
  assert.is(await policy(), 'ALWAYS');
});

test('cleanup --all on the user path deletes what the tool made', async () => {
  const r = await task(['cleanup', '--yes', '--', '--all']);
  assert.is(r.code, 0, show(r));
  const { sql, buckets } = infra();
  const gone = await sb.gcloud(['sql', 'instances', 'describe', sql.instance, '--format=json']);
  assert.is.not(gone.code, 0, 'the instance is deleted');
  const listed = (await sb.ok(['storage', 'buckets', 'list', '--format=value(name)'])).stdout.split('\n');
  for (const b of buckets) assert.not.ok(listed.includes(b.name), b.name);
  assert.equal(JSON.parse((await sb.ok(['run', 'services', 'list', `--region=${sb.handle.region}`, '--format=json'])).stdout), []);
});

test.run();
