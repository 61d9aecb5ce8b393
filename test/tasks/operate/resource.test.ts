// resource:delete and api:enable against the sandbox with the real gcloud: confirmation on a terminal,
// refusal without one, only the tool's resources, a bucket deleted with its objects, and the cache entry
// dropped so the next setup recreates exactly what was deleted.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectCode, loud, startOpsSandbox, type OpsSandbox } from './harness.js';

const test = gcloudTests('operate/resource tests');

let sb: OpsSandbox;
const bucket = 'clone-uploads-development';

const bucketExists = async (name: string) => (await sb.gcloud(['storage', 'buckets', 'describe', `gs://${name}`])).code === 0;
async function taskStatus(task: string): Promise<string> {
  const r = await sb.cli([task, '--json']);
  expectCode(r, 0, task);
  return (JSON.parse(r.stdout) as { tasks: { name: string; status: string }[] }).tasks.find((t) => t.name === task)!.status;
}

test.before(loud(async () => {
  sb = await startOpsSandbox();
  expectCode(await sb.cli(['apis:enable', 'buckets:create']), 0, 'setup of the buckets');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-ops-obj-'));
  fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.alloc(1024, 1));
  const cp = await sb.gcloud(['storage', 'cp', path.join(dir, 'a.bin'), `gs://${bucket}/uploads/a.bin`]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.is(cp.code, 0, cp.stderr);
}));
test.after(async () => {
  await sb?.stop();
});

test('without a terminal and without --yes, nothing is deleted', async () => {
  const r = await sb.cli(['resource:delete', '--', '--type=bucket', `--name=${bucket}`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /destructive and there is no terminal/);
  assert.ok(await bucketExists(bucket));
});

test('bad arguments: a readable error, non-zero exit, nothing touched', async () => {
  const r = await sb.cli(['resource:delete', '--yes', '--', '--type=database', `--name=${bucket}`]);
  assert.ok(r.code !== 0, r.stderr);
  assert.match(r.stderr, /resource:delete[^\n]*--type=[^\n]*bucket\|sql\|service\|secret\|sa\|registry/);
  assert.ok(await bucketExists(bucket));
});

test('a bucket the tool does not manage is refused, whatever the flags', async () => {
  const foreign = `tf-state-${process.pid}`;
  assert.is((await sb.gcloud(['storage', 'buckets', 'create', `gs://${foreign}`, `--location=${sb.region}`])).code, 0);
  const r = await sb.cli(['resource:delete', '--yes', '--', '--type=bucket', `--name=${foreign}`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /not managed by gcp-tasks/);
  assert.ok(await bucketExists(foreign));
});

test('on a terminal: the question shows what will be deleted; no keeps it, yes deletes it with its objects', async () => {
  assert.is(await taskStatus('buckets:create'), 'cached', 'before: buckets:create is up to date');
  const question = `Delete Storage bucket ${bucket} \\(us-central1, 1\\.00 KiB in 1 object\\) in project digitwin-sandbox\\? This cannot be undone\\. \\[y/N\\]`;
  const no = await sb.tty(['resource:delete', '--', '--type=bucket', `--name=${bucket}`], [[question, 'n']]);
  assert.is(no.answered, 1, no.stdout);
  assert.is(no.code, 0, no.stdout);
  assert.ok(await bucketExists(bucket), 'answer no: still there');

  const yes = await sb.tty(['resource:delete', '--', '--type=bucket', `--name=${bucket}`], [[question, 'y']]);
  assert.is(yes.code, 0, yes.stdout);
  assert.not.ok(await bucketExists(bucket), 'answer yes: gone');
  // The cache no longer claims it exists: the next buckets:create runs and recreates it.
  assert.is(await taskStatus('buckets:create'), 'ran');
  assert.ok(await bucketExists(bucket));
});

test('--yes without a terminal deletes; deleting it again succeeds and says there is nothing to delete', async () => {
  const r = await sb.cli(['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`]);
  expectCode(r, 0, 'delete --yes');
  assert.not.ok(await bucketExists(bucket));
  const again = await sb.cli(['resource:delete', '--yes', '--', '--type=bucket', `--name=${bucket}`]);
  expectCode(again, 0, 'delete again');
  assert.match(again.stderr, /does not exist in project digitwin-sandbox; nothing to delete/);
  assert.is(await taskStatus('buckets:create'), 'ran', 'recreated by the next setup step');
});

test('api:enable enables one API and makes the next apis:enable check again', async () => {
  assert.is(await taskStatus('apis:enable'), 'cached');
  assert.is((await sb.gcloud(['services', 'disable', 'run.googleapis.com'])).code, 0);
  const r = await sb.cli(['api:enable', '--', '--name=run']);
  expectCode(r, 0, 'api:enable');
  const enabled = await sb.gcloudJson<any[]>(['services', 'list', '--enabled']);
  assert.ok(enabled.some((s) => s.config?.name === 'run.googleapis.com'));
  assert.is(await taskStatus('apis:enable'), 'ran');
  const bad = await sb.cli(['api:enable', '--', '--name=Not An API']);
  assert.ok(bad.code !== 0, bad.stderr);
  assert.match(bad.stderr, /api:enable[^\n]*(needs --name=API|is not an API name)/);
});

test.run();
