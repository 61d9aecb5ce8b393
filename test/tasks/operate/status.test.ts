// `status` and `list` against the sandbox with the real gcloud: an empty project (everything missing, each
// with the task that creates it), a full one, one changed behind the tool's back (drift), and one whose
// Secret Manager API hangs (that part timed out, the rest answered, within the bound).
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectCode, loud, startOpsSandbox, type OpsSandbox } from './harness.js';
import type { StatusReport, StatusItem } from '../../../tasks/operate/status.js';
import type { ListOutput } from '../../../tasks/operate/list.js';

const test = gcloudTests('operate/status tests');

let sb: OpsSandbox;
const names = {
  buckets: ['clone-voice-models-development', 'clone-face-models-development', 'clone-documents-development', 'clone-uploads-development'],
  sql: 'digitwinlive-db-dev',
  sa: 'digitwinlive-sa-dev',
  secrets: ['jwt-secret-dev', 'refresh-secret-dev', 'database-password-dev'],
  services: ['api-gateway-dev', 'websocket-server-dev', 'face-processing-service-dev'],
};

async function status(...args: string[]): Promise<{ report: StatusReport; text: string }> {
  const r = await sb.cli(['status', '--json', '--', '--timeout=90', ...args]);
  expectCode(r, 0, 'status');
  return { report: sb.outputs<StatusReport>(r, 'status'), text: r.stderr };
}
const find = (report: StatusReport, name: string): StatusItem => {
  const item = report.items.find((i) => i.name === name);
  if (!item) throw new Error(`no status item ${name}: ${report.items.map((i) => i.name).join(', ')}`);
  return item;
};

test.before(loud(async () => {
  sb = await startOpsSandbox();
}));
test.after(async () => {
  await sb?.stop();
});

test('empty project: every resource missing, each with the task that creates it', async () => {
  const { report, text } = await status();
  const expectMissing = (name: string, task: string) => {
    const item = find(report, name);
    assert.is(item.state, 'missing', `${name}: ${JSON.stringify(item)}`);
    assert.match(item.fix ?? '', task);
  };
  for (const b of names.buckets) expectMissing(b, 'buckets:create');
  expectMissing(names.sql, 'sql:create');
  expectMissing('digitwinlive-dev', 'registry:create');
  expectMissing(`${names.sa}@${sb.project}.iam.gserviceaccount.com`, 'iam:create');
  for (const s of names.secrets) expectMissing(s, 'secrets:create');
  for (const s of names.services) expectMissing(s, `deploy:${s.replace(/-dev$/, '')}`);
  assert.is(report.counts['timed-out'], 0, 'nothing timed out');
  assert.is(report.counts.error, 0, 'no query failed');
  assert.match(text, 'created by: pnpm task buckets:create');
  assert.match(text, 'created by: pnpm task sql:create');
});

test('full project after setup and deploy: everything present, no drift', async () => {
  // The same project after setup and deploy:all (the snapshot is made by those two runs, which must succeed).
  await sb.stop();
  sb = await startOpsSandbox({ snapshot: 'deploy' });
  const { report, text } = await status();
  const cloud = report.items.filter((i) => i.section !== 'Local development database');
  const notOk = cloud.filter((i) => i.state !== 'ok');
  assert.equal(notOk, [], `not ok: ${JSON.stringify(notOk, null, 1)}`);
  for (const b of names.buckets) assert.match(find(report, b).summary, /0 B, 0 objects.*lifecycle as configured/);
  const sql = find(report, names.sql);
  assert.match(sql.summary, /RUNNABLE · db-f1-micro · POSTGRES_15/);
  assert.ok(sql.notes.some((n) => n.includes(`/cloudsql/${sb.project}:${sb.region}:${names.sql}`)), 'socket path shown');
  assert.ok(sql.notes.some((n) => n.includes('cloud-sql-proxy')), 'how to connect shown');
  for (const s of names.secrets) assert.match(find(report, s).summary, /1 version/);
  for (const s of names.services) {
    const item = find(report, s);
    assert.match(item.summary, /https?:\/\/\S+ · revision \S+ · ready/);
    assert.ok(item.notes.some((n) => /traffic: 100% /.test(n)), `traffic split of ${s}`);
  }
  assert.match(find(report, 'alert policies').summary, /alert polic/);
  assert.not.match(text, /SECRET_VALUE|BEGIN PRIVATE KEY/);
});

test('list: one tab-separated line per managed resource on stdout; a foreign bucket is not listed', async () => {
  const foreign = `tf-state-${process.pid}`;
  const made = await sb.gcloud(['storage', 'buckets', 'create', `gs://${foreign}`, `--location=${sb.region}`]);
  assert.is(made.code, 0, made.stderr);
  const r = await sb.cli(['list', '--', '--timeout=90']);
  expectCode(r, 0, 'list');
  const lines = r.stdout.trim().split('\n');
  for (const line of lines) assert.is(line.split('\t').length, 4, `four columns: ${JSON.stringify(line)}`);
  const rows = lines.map((l) => l.split('\t'));
  for (const b of names.buckets) assert.ok(rows.some(([type, name, location]) => type === 'bucket' && name === b && location === sb.region), `bucket ${b} listed`);
  assert.ok(rows.some(([type, name, , state]) => type === 'sql' && name === names.sql && state === 'RUNNABLE'));
  for (const s of names.services) assert.ok(rows.some(([type, name, , state]) => type === 'service' && name === s && state === 'READY'));
  assert.ok(!rows.some(([, name]) => name === foreign), 'foreign bucket not listed');
  // --json gives the same as data.
  const j = await sb.cli(['list', '--json', '--', '--timeout=90']);
  const out = sb.outputs<ListOutput>(j, 'list');
  assert.is(out.resources.length, lines.length);
});

test('drift: changes made behind the tool\'s back are shown against tasks.config.ts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-ops-drift-'));
  const lifecycle = path.join(dir, 'lifecycle.json');
  fs.writeFileSync(lifecycle, JSON.stringify({ rule: [{ action: { type: 'Delete' }, condition: { age: 7, matchesPrefix: ['temp/'] } }] }));
  const changes = await Promise.all([
    sb.gcloud(['storage', 'buckets', 'update', `gs://${names.buckets[3]}`, `--lifecycle-file=${lifecycle}`]),
    sb.gcloud(['sql', 'instances', 'patch', names.sql, '--tier=db-g1-small']),
    sb.gcloud(['run', 'services', 'update', names.services[0], `--region=${sb.region}`, '--memory=1Gi', '--max-instances=3']),
  ]);
  for (const c of changes) assert.is(c.code, 0, c.stderr);
  const role = 'roles/logging.logWriter';
  const unbind = await sb.gcloud(['projects', 'remove-iam-policy-binding', sb.project, `--member=serviceAccount:${names.sa}@${sb.project}.iam.gserviceaccount.com`, `--role=${role}`, '--condition=None'], {});
  assert.is(unbind.code, 0, unbind.stderr);
  fs.rmSync(dir, { recursive: true, force: true });

  const { report, text } = await status();
  const drift = (name: string, pattern: RegExp) => {
    const item = find(report, name);
    assert.is(item.state, 'drift', `${name}: ${JSON.stringify(item)}`);
    assert.ok(item.problems.some((p) => pattern.test(p)), `${name} problems ${JSON.stringify(item.problems)} ~ ${pattern}`);
  };
  drift(names.buckets[3], /lifecycle deletes temp\/ after 7 d \(config: temp\/ after 30 d, uploads\/ after 90 d\)/);
  drift(names.sql, /tier db-g1-small \(config: db-f1-micro\)/);
  drift(`${names.sa}@${sb.project}.iam.gserviceaccount.com`, /roles missing: roles\/logging\.logWriter/);
  drift(names.services[0], /memory 1Gi \(config: 512Mi\)/);
  drift(names.services[0], /max instances 3 \(config: 10\)/);
  assert.is(find(report, names.buckets[0]).state, 'ok', 'untouched bucket stays ok');
  assert.match(text, 'drift: tier db-g1-small (config: db-f1-micro)');
});

test('a hung API is reported as timed out, not missing, and the rest still answers within the bound', async () => {
  await sb.faults({ slow: [{ path: '/secrets', ms: 120_000 }] });
  try {
    // 20 s per query (room for a loaded machine to start gcloud), far below the 120 s the hung API takes.
    const r = await sb.cli(['status', '--json', '--', '--timeout=20']);
    expectCode(r, 0, 'status with a hung Secret Manager');
    const report = sb.outputs<StatusReport>(r, 'status');
    for (const s of names.secrets) assert.is(find(report, s).state, 'timed-out', s);
    assert.ok(report.items.filter((i) => i.state === 'missing').every((i) => !names.secrets.includes(i.name)), 'never "missing"');
    assert.is(find(report, names.buckets[0]).state, 'ok', 'buckets answered');
    assert.ok(['ok', 'drift'].includes(find(report, names.sql).state), 'SQL answered');
    assert.ok(report.elapsedMs < 26_000, `status bound (25 s budget): ${report.elapsedMs} ms`);
    assert.match(r.stderr, /timed out after \d+\.\d s \(not known whether it exists\)/);
  } finally {
    await sb.faults({});
  }
});

test.run();
