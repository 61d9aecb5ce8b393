// cleanup's modes on a full project, driven as a person would (pseudo-terminal) or as CI would (pipe):
// refusals without a terminal, --dry-run, the menu's quit, DELETE ALL mistyped, no to everything, and the
// numbered menu deleting two types (then setup recreates exactly those).
import { gcloudTests } from '../../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { expectCode, loud, type OpsSandbox } from '../harness.js';
import { assertFull, existingNames, foreign, managed, startFullProject } from './helpers.js';

const test = gcloudTests('operate/cleanup/modes tests');

let sb: OpsSandbox;
const P = 'digitwin-sandbox';

test.before(loud(async () => {
  sb = await startFullProject();
}));
test.after(async () => {
  await sb?.stop();
});

test('without a terminal: refused unless a mode and --yes are given; nothing deleted', async () => {
  const noYes = await sb.cli(['cleanup', '--', '--timeout=90', '--all']);
  assert.is(noYes.code, 1, noYes.stderr);
  assert.match(noYes.stderr, /destructive and there is no terminal/);
  const noMode = await sb.cli(['cleanup', '--yes', '--', '--timeout=90']);
  assert.ok(noMode.code !== 0);
  assert.match(noMode.stderr, /Without a terminal, cleanup needs a mode and --yes \(nothing was deleted\)/);
  const menuWithoutTypes = await sb.cli(['cleanup', '--yes', '--', '--timeout=90', '--menu']);
  assert.ok(menuWithoutTypes.code !== 0);
  assert.match(menuWithoutTypes.stderr, /--menu needs --types=/);
  assertFull(await existingNames(sb));
});

test('--dry-run (no terminal needed): discovery with details, what would be deleted, what is left alone', async () => {
  const r = await sb.cli(['cleanup', '--', '--timeout=90', '--dry-run']);
  expectCode(r, 0, 'cleanup --dry-run');
  const text = r.stderr;
  assert.match(text, /digitwinlive-db-dev\s+RUNNABLE, db-f1-micro, POSTGRES_15, ZONAL, 10 GB disk, databases: .*digitwinlive-db/);
  assert.match(text, /clone-uploads-development\s+us-central1, 0 B in 0 objects/);
  assert.match(text, /jwt-secret-dev\s+1 version/);
  assert.match(text, new RegExp(`left alone: ${foreign.bucket} \\(not managed by gcp-tasks\\)`));
  assert.match(text, new RegExp(`left alone: ${foreign.service} \\(not managed by gcp-tasks\\)`));
  assert.match(text, /Would delete, in this order:\n(.*\n)*.*Cloud Run service api-gateway-dev/);
  // Services come before what they use.
  assert.ok(text.indexOf('Cloud Run service face-processing-service-dev') < text.indexOf('Cloud SQL instance digitwinlive-db-dev'));
  assertFull(await existingNames(sb));
});

test('interactive menu: an invalid choice asks again; quitting is a cancel (exit 1, no ✔) and deletes nothing', async () => {
  const r = await sb.tty(['cleanup', '--', '--timeout=90'], [['Choice \\[1-4\\]:', '7'], ['Try again[\\s\\S]*Choice \\[1-4\\]:', '4']]);
  assert.is(r.answered, 2, r.stdout);
  assert.is(r.code, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`How do you want to clean up project ${P}\\?`));
  assert.match(r.stdout, /"7" is not one of 1, 2, 3 or 4/);
  assert.match(r.stdout, /cleanup cancelled: you chose "nothing: quit"/);
  assert.match(r.stdout, /Nothing was deleted/);
  assert.not.match(r.stdout, /✔ cleanup/);
  assertFull(await existingNames(sb));
});

test('Ctrl-C at a question ends the questions and the run at once: exit 130, nothing deleted, no further question', async () => {
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--selective'], [[`Delete \\d+ Cloud Run services[^\\n]*\\[y/N\\]`, 'y'], [`Delete 1 Cloud SQL instance[^\\n]*\\[y/N\\]`, '^C']]);
  assert.is(r.answered, 2, r.stdout);
  assert.is(r.code, 130, r.stdout);
  assert.not.match(r.stdout, /Delete \d+ Storage buckets/, 'no question after the Ctrl-C');
  assert.match(r.stdout, /Nothing was deleted/);
  assert.match(r.stdout, /interrupted before it was tried/);
  assert.not.match(r.stdout, /could not delete/);
  assertFull(await existingNames(sb));
});

test('--all: anything but DELETE ALL exactly cancels (exit 1, no ✔) and deletes nothing', async () => {
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--all'], [[`Type DELETE ALL to delete the \\d+ resources listed above from project ${P}`, 'delete all']]);
  assert.is(r.answered, 1, r.stdout);
  assert.is(r.code, 1, r.stdout);
  assert.match(r.stdout, /cleanup cancelled: you typed "delete all", not DELETE ALL/);
  assert.not.match(r.stdout, /✔ cleanup/);
  assert.match(r.stdout, /Nothing was deleted/);
  assertFull(await existingNames(sb));
});

test('--selective: answering no to everything deletes nothing', async () => {
  const steps: [string, string][] = ['Cloud Run services', 'Cloud SQL instance', 'Storage buckets', 'Artifact Registry', 'Secret Manager secrets', 'Service account'].map((t) => [
    `Delete \\d+ ${t}[^\\n]*from project ${P}\\? \\[y/N\\]`,
    'n',
  ]);
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--selective'], steps);
  assert.is(r.answered, 6, r.stdout);
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, /Skipped \(\d+\):/);
  assert.match(r.stdout, /Nothing was deleted/);
  assertFull(await existingNames(sb));
});

test('--menu: an invalid answer asks again; the numbered types chosen (services, secrets) are deleted, nothing else; setup recreates the secrets', async () => {
  const r = await sb.tty(['cleanup', '--', '--timeout=90', '--menu'], [[`Numbers of the types to delete from project ${P}`, '9'], [`Try again[\\s\\S]*Numbers of the types to delete from project ${P}`, '1,5']]);
  assert.is(r.answered, 2, r.stdout);
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, /1\) Cloud Run services \(3: /);
  assert.match(r.stdout, /5\) Secret Manager secrets \(3: /);
  const after = await existingNames(sb);
  for (const s of [...managed.services, ...managed.secrets]) assert.not.ok([...after.services, ...after.secrets].includes(s), `${s} deleted`);
  assert.ok(after.services.includes(foreign.service), 'another team\'s service in the region is left alone');
  for (const b of managed.buckets) assert.ok(after.buckets.includes(b), `${b} kept`);
  assert.ok(after.sql.includes(managed.sql[0]) && after.sas.includes(managed.sas[0]) && after.registries.includes(managed.registries[0]));
  assert.match(r.stdout, /Deleted \(6\):/);
  assert.match(r.stdout, /`pnpm task setup --env=development --sandbox` recreates what was deleted/);

  const setup = await sb.cli(['setup', '--json']);
  expectCode(setup, 0, 'setup after cleanup');
  const statuses = Object.fromEntries((JSON.parse(setup.stdout).tasks as { name: string; status: string }[]).map((t) => [t.name, t.status]));
  assert.is(statuses['secrets:create'], 'ran', 'secrets recreated');
  assert.is(statuses['buckets:create'], 'cached', 'buckets untouched, still cached');
  const again = await existingNames(sb);
  for (const s of managed.secrets) assert.ok(again.secrets.includes(s), `${s} recreated`);
});

test.run();
