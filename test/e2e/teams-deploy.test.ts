// A team adopting the state bucket on a deployed project (the post-deploy snapshot): state:init makes the
// bucket as documented (versioned, uniform access, public access prevented, labelled) and changes nothing
// when run again; state:migrate copies the first clone's records and salt up; a second clone with an empty
// state folder then finds deploy:all fully cached with no gcloud process at all (the state reads use gcloud's cached token).
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { cleanCloudEnv } from '../helpers/snapshot.js';
import { testsNeeding } from '../helpers/skip.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const it = testsNeeding('gcloud', 'the state bucket on a deployed sandbox project');
const bucket = 'digitwinlive-task-state';
let sb: TestSandbox;
let secondClone: string;

it.before(async () => {
  sb = await startTestSandbox({ snapshot: 'deploy' });
  secondClone = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-clone-'));
});

it.after(async () => {
  await sb?.stop();
  fs.rmSync(secondClone, { recursive: true, force: true });
});

/** The first clone uses the snapshot's state folder; the second one its own, empty one. */
const task = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['--sandbox', ...args], { timeoutMs: 300_000, env: cleanCloudEnv({ GCP_TASKS_SANDBOX_DIR: sb.dir, GCP_TASKS_STATE: `gs://${bucket}/gcp-tasks`, ...env }) });

const json = (r: CliResult) => JSON.parse(r.stdout) as { tasks: { name: string; status: string; reason?: string }[]; gcloud: { calls: number }; rest: { requests: number } };

it('state:init makes the bucket versioned, uniform, not public and labelled; run again it changes nothing', async () => {
  const made = await task(['state:init', '--json']);
  assert.is(made.code, 0, made.stderr);
  const described = JSON.parse((await sb.ok(['storage', 'buckets', 'describe', `gs://${bucket}`, '--raw', '--format=json'])).stdout);
  assert.is(described.versioning?.enabled, true);
  assert.is(described.iamConfiguration.uniformBucketLevelAccess.enabled, true);
  assert.is(described.iamConfiguration.publicAccessPrevention, 'enforced');
  assert.equal(described.labels, { app: 'digitwinlive', 'managed-by': 'gcp-tasks', purpose: 'task-state' });
  assert.is(described.location.toLowerCase(), sb.handle.region);
  const again = await task(['state:init', '--json']);
  assert.is(again.code, 0, again.stderr);
  // It looked (one REST read of the bucket) and changed nothing (no gcloud command).
  assert.is(json(again).gcloud.calls, 0, 'no change');
  assert.ok(json(again).rest.requests >= 1, 'it read the bucket');
});

it('state:migrate copies the records up; a second clone finds deploy:all fully cached with 0 gcloud calls beyond the state reads', async () => {
  // The first clone's deploy:all, with its local state (the snapshot copy moved the services' URLs to a new
  // port, so deploy:all records them once more).
  const first = await task(['deploy:all', '--json']);
  assert.is(first.code, 0, first.stderr);
  const migrated = await task(['state:migrate']);
  assert.is(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stderr, /copied \d+ records to gs:\/\/digitwinlive-task-state\/gcp-tasks/);
  const r = await task(['deploy:all', '--json'], { GCP_TASKS_STATE_DIR: secondClone });
  assert.is(r.code, 0, r.stderr);
  const summary = json(r);
  const notCached = summary.tasks.filter((t) => t.status !== 'cached').map((t) => `${t.name}: ${t.status} (${t.reason})`);
  assert.equal(notCached, [], 'every task cached from the bucket');
  assert.is(summary.gcloud.calls, 0, 'no gcloud process: the state reads use the access token gcloud already holds');
  assert.not.ok(fs.existsSync(path.join(secondClone, 'records')), 'no local records: they are in the bucket');
});

it.run();
