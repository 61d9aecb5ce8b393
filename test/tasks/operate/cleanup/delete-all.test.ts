// cleanup deleting for real: --selective with buckets confirmed one by one, then DELETE ALL typed exactly
// (everything the tool manages goes, the deleted service account's policy bindings with it, the foreign
// bucket and service stay), then setup recreating exactly what was deleted.
import { gcloudTests } from '../../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { expectCode, loud, type OpsSandbox } from '../harness.js';
import { existingNames, fillProject, foreign, managed, startFullProject } from './helpers.js';

const test = gcloudTests('operate/cleanup/delete-all tests');

let sb: OpsSandbox;
const P = 'digitwin-sandbox';

test.before(loud(async () => {
  sb = await startFullProject();
}));
test.after(async () => {
  await sb?.stop();
});

test('--selective: only the chosen type; each bucket confirmed with its details and the project', async () => {
  const shown = [...managed.buckets].sort(); // buckets are listed (and asked about) in name order
  const no = (t: string): [string, string] => [`Delete \\d+ ${t}[^\\n]*from project ${P}\\? \\[y/N\\]`, 'n'];
  const bucket = (name: string, answer: string): [string, string] => [`Delete Storage bucket ${name} \\(us-central1, 0 B in 0 objects\\) from project ${P}\\? \\[y/N\\]`, answer];
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--selective'], [
    no('Cloud Run services'),
    no('Cloud SQL instance'),
    [`Delete 4 Storage buckets[^\\n]*from project ${P}\\? \\[y/N\\]`, 'y'],
    no('Artifact Registry'),
    no('Secret Manager secrets'),
    no('Service account'),
    bucket(shown[0], 'y'),
    bucket(shown[1], 'n'),
    bucket(shown[2], 'y'),
    bucket(shown[3], 'n'),
  ]);
  assert.is(r.answered, 10, r.stdout);
  assert.is(r.code, 0, r.stdout);
  const after = await existingNames(sb);
  assert.not.ok(after.buckets.includes(shown[0]));
  assert.ok(after.buckets.includes(shown[1]));
  assert.not.ok(after.buckets.includes(shown[2]));
  assert.ok(after.buckets.includes(shown[3]));
  assert.match(r.stdout, new RegExp(`bucket ${shown[1]}: you answered no`));
  assert.match(r.stdout, /Deleted \(2\):/);
});

test('--all after typing DELETE ALL: everything managed is deleted, the rest left alone; setup recreates it', async () => {
  await fillProject(sb);
  const sqlQuestion = `Delete Cloud SQL instance digitwinlive-db-dev \\(RUNNABLE, db-f1-micro[^\\n]*databases: [^\\n]*\\) from project ${P}\\? \\[y/N\\]`;
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--all'], [
    [`Type DELETE ALL to delete the \\d+ resources listed above from project ${P}`, 'DELETE ALL'],
    [sqlQuestion, 'y'],
    ...[...managed.buckets].sort().map((b): [string, string] => [`Delete Storage bucket ${b} [^\\n]*from project ${P}\\? \\[y/N\\]`, 'y']),
  ], { timeoutMs: 110_000 });
  assert.is(r.answered, 6, r.stdout);
  assert.is(r.code, 0, r.stdout);
  const after = await existingNames(sb);
  for (const [key, names] of Object.entries(managed)) for (const n of names) assert.not.ok((after as any)[key].includes(n), `${n} deleted`);
  assert.ok(after.buckets.includes(foreign.bucket), 'the Terraform state bucket is left alone');
  assert.ok(after.services.includes(foreign.service), 'another team\'s service is left alone');
  assert.match(r.stdout, new RegExp(`Left alone[^\\n]*:\\n(.*\\n)*.*bucket ${foreign.bucket}: not managed by gcp-tasks`));
  assert.match(r.stdout, /`pnpm task setup --env=development --sandbox` recreates what was deleted/);
  // The project policy keeps a deleted account's roles as `deleted:serviceAccount:…?uid=…`: they go with it.
  const policy = await sb.gcloudJson<{ bindings?: { members?: string[] }[] }>(['projects', 'get-iam-policy', P]);
  const leftovers = (policy.bindings ?? []).flatMap((b) => b.members ?? []).filter((m) => m.includes(`${managed.sas[0]}@`));
  assert.equal(leftovers, [], 'no binding of the deleted service account is left in the project policy');

  // The cache claims nothing that is gone: setup runs every step again and everything is back, except the
  // Cloud SQL instance: Google keeps a deleted instance's name for about a week, and sql:create says so.
  assert.match(r.stdout, /Cloud SQL keeps the name digitwinlive-db-dev reserved for about a week/);
  const setup = await sb.cli(['setup', '--continue', '--json']);
  expectCode(setup, 1, 'setup after cleanup');
  const tasks = JSON.parse(setup.stdout).tasks as { name: string; status: string; error?: string }[];
  const statuses = Object.fromEntries(tasks.map((t) => [t.name, t.status]));
  for (const t of ['registry:create', 'buckets:create', 'iam:create', 'secrets:create']) assert.is(statuses[t], 'ran', t);
  assert.is(statuses['sql:create'], 'failed');
  assert.match(tasks.find((t) => t.name === 'sql:create')!.error!, /belongs to an instance deleted less than a week ago/);
  const back = await existingNames(sb);
  for (const [key, names] of Object.entries(managed)) if (key !== 'services' && key !== 'sql') for (const n of names) assert.ok((back as any)[key].includes(n), `${n} recreated`);
});

test('--disable-apis (opt-in) disables the configured APIs last; then nothing is left to clean', async () => {
  // Remove what setup just recreated, without questions (CI form), APIs included.
  const r = await sb.cli(['cleanup', '--yes', '--json', '--', '--timeout=90', '--all', '--disable-apis']);
  expectCode(r, 0, 'cleanup --all --disable-apis --yes');
  const out = sb.outputs<{ apisDisabled: string[]; invalidated: string[] }>(r, 'cleanup');
  assert.ok(out.apisDisabled.includes('sqladmin.googleapis.com'), JSON.stringify(out));
  assert.ok(out.invalidated.includes('apis:enable'));
  const enabled = (await sb.gcloudJson<any[]>(['services', 'list', '--enabled'])).map((s) => s.config?.name);
  assert.not.ok(enabled.includes('sqladmin.googleapis.com'), 'disabled in the project');
  const again = await sb.cli(['cleanup', '--yes', '--', '--timeout=90', '--all']);
  expectCode(again, 0, 'cleanup of an empty project');
  assert.match(again.stderr, /Nothing to clean up: no resources managed by gcp-tasks for development in project digitwin-sandbox/);
});

test.run();
