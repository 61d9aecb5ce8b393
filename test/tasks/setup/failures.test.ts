// What stops a setup before anything happens (bad or missing env, a bad config, gcloud missing or not
// logged in), and a permission error on one bucket: that task fails clearly, the independent tasks
// still finish with --continue, and the next run picks up only what is left.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { out, setupSandbox, show, summary, type SetupSandbox } from './helpers.js';

const test = gcloudTests('setup/failures tests');

let s: SetupSandbox;
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-setup-fail-'));
/** An empty gcloud config folder: gcloud writes into it on any invocation, so it staying empty proves none ran. */
const gcloudConfig = path.join(temp, 'gcloud-config');
fs.mkdirSync(gcloudConfig);

/** The CLI without --sandbox, on a machine with no GCP settings (cwd: a folder without env files). */
function realRun(args: string[], env: Record<string, string>) {
  const cleaned: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (/^(GCP_|GOOGLE_|CLOUDSDK_|GCS_BUCKET_|NODE_ENV$|LOG_)/.test(key)) cleaned[key] = undefined;
  return runCli([...args, '--config', path.join(repoRoot, 'tasks.config.ts')], {
    cwd: temp,
    env: { ...cleaned, CLOUDSDK_CONFIG: gcloudConfig, GCP_TASKS_STATE_DIR: path.join(temp, 'state'), ...env },
  });
}

test.before(async () => {
  s = await setupSandbox();
});
test.after(async () => {
  await s?.stop();
  fs.rmSync(temp, { recursive: true, force: true });
});

test('missing GCP_PROJECT_ID and GCP_REGION: both named, exit 1, gcloud never runs', async () => {
  const r = await realRun(['setup'], {});
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /GCP_PROJECT_ID/);
  assert.match(out(r), /GCP_REGION/);
  assert.not.match(out(r), /\n\s+at .*\(/, 'no stack trace');
  assert.equal(fs.readdirSync(gcloudConfig), [], 'gcloud was not run');
});

test('invalid project id and region: each named with the rule, gcloud never runs', async () => {
  const r = await realRun(['setup'], { GCP_PROJECT_ID: 'My_Project', GCP_REGION: 'mars-east1' });
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /GCP_PROJECT_ID: must be a Google Cloud project id/);
  assert.match(out(r), /GCP_REGION: must be a Google Cloud region/);
  assert.equal(fs.readdirSync(gcloudConfig), []);
});

test('invalid values in a sandbox run: every one named, not a single request sent', async () => {
  await s.clearRequests();
  const r = await s.task(['setup'], { env: { GCS_BUCKET_UPLOADS: 'Bad_Bucket!', LOG_LEVEL: 'loud', DATABASE_POOL_MIN: '9', DATABASE_POOL_MAX: '3' } });
  assert.is(r.code, 1, show(r));
  for (const key of ['GCS_BUCKET_UPLOADS', 'LOG_LEVEL', 'DATABASE_POOL_MIN']) assert.match(out(r), new RegExp(`${key}: `), key);
  assert.equal(await s.requests(), []);
});

/** A config in a temp folder: the real infra with `patch` (JS source of an object spread over it) applied. */
function patchedConfig(patch: string): string {
  const dir = fs.mkdtempSync(path.join(temp, 'config-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const from = (p: string) => JSON.stringify(path.join(repoRoot, p));
  fs.writeFileSync(path.join(dir, 'tasks.config.ts'), `import { defineConfig } from ${from('lib/index.js')};
import { infra as base } from ${from('tasks.config.js')};
import { gcpTasks, gcpEnvSchema } from ${from('tasks/index.js')};
const infra = { ...base, ...${patch} };
export default defineConfig({ infra, envSchema: gcpEnvSchema, tasks: gcpTasks(infra) });
`);
  return path.join(dir, 'tasks.config.ts');
}

test('an invalid config (tier, backup time; then a bucket name): every problem named, not a single request sent', async () => {
  await s.clearRequests();
  const badSql = patchedConfig(`{ sql: { ...base.sql, tier: { development: 'db-huge', production: 'db-custom-1-3840' }, backupStartTime: '3am' } }`);
  const r = await s.task(['setup', '--config', badSql]);
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /sql\.tier\.development: a Cloud SQL tier/);
  assert.match(out(r), /sql\.backupStartTime: HH:MM/);
  const badBucket = patchedConfig(`{ buckets: base.buckets.map((b, i) => (i === 0 ? { ...b, name: 'Clone_Voice_{env}' } : b)) }`);
  const r2 = await s.task(['setup', '--config', badBucket]);
  assert.is(r2.code, 1, show(r2));
  assert.match(out(r2), /"Clone_Voice_development" is not a valid bucket name/);
  assert.equal(await s.requests(), []);
});

test('gcloud not installed: the run stops before anything, with the install hint', async () => {
  const bin = path.join(temp, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  if (!fs.existsSync(path.join(bin, 'node'))) fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = await realRun(['setup'], { PATH: bin, GCP_PROJECT_ID: 'my-project-123', GCP_REGION: 'us-central1' });
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /gcloud is not installed/);
  assert.match(out(r), /cloud\.google\.com\/sdk/);
});

test('gcloud not authenticated: the run stops with `gcloud auth login`', async () => {
  const r = await realRun(['setup'], { GCP_PROJECT_ID: 'my-project-123', GCP_REGION: 'us-central1' });
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /not authenticated/);
  assert.match(out(r), /gcloud auth login/);
});

test('a 403 on one bucket: buckets:create fails naming it, the independent tasks finish with --continue', async () => {
  const denied = 'clone-face-models-development';
  await s.faults({ errors: [{ path: `/storage/v1/b/${denied}`, status: 403, message: 'injected: caller lacks storage.buckets.get' }] });
  const r = await s.task(['setup', '--continue', '--json']);
  assert.is(r.code, 1, show(r));
  const status = Object.fromEntries(summary(r).tasks.map((t) => [t.name, t]));
  assert.is(status['buckets:create'].status, 'failed');
  assert.match(status['buckets:create'].error!, new RegExp(`${denied}.*permission|permission.*${denied}`, 's'));
  for (const name of ['apis:enable', 'registry:create', 'iam:create', 'secrets:create', 'sql:create']) assert.is(status[name].status, 'ran', name);
  assert.is(status.setup.status, 'skipped-dep-failed');
  assert.match(out(r), new RegExp(`GCS_BUCKET_FACE_MODELS`), 'the hint names the override');
  // The other buckets were created all the same.
  for (const b of s.infra().buckets.filter((x) => x.name !== denied)) {
    const d = await s.gcloud(['storage', 'buckets', 'describe', `gs://${b.name}`, '--format=value(name)']);
    assert.is(d.code, 0, `${b.name}: ${d.stderr}`);
  }

  // Permission fixed: the next run does only what is left.
  await s.faults({});
  await s.clearRequests();
  const again = await s.task(['setup', '--json']);
  assert.is(again.code, 0, show(again));
  const ran = summary(again).tasks.filter((t) => t.status === 'ran').map((t) => t.name).sort();
  assert.equal(ran, ['buckets:create', 'setup']);
  const created = (await s.requests()).filter((q) => q.method === 'POST' && q.path === '/storage/v1/b');
  assert.is(created.length, 1, 'only the missing bucket is created');
  assert.match(out(again), new RegExp(`\\+ created\\s+bucket ${denied}`));
});

test.run();
