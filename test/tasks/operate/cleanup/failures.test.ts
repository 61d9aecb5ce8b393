// Property 33: a permanent error on one bucket and one secret (injected by the sandbox) stops neither the
// other deletions nor the report: everything else is deleted, both failures are named with their cause,
// the exit code is non-zero, and a second run finishes the job once the cause is gone.
import { gcloudTests } from '../../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { expectCode, loud, type OpsSandbox } from '../harness.js';
import { existingNames, foreign, managed, startFullProject } from './helpers.js';

const test = gcloudTests('operate/cleanup/failures tests');

let sb: OpsSandbox;
const badBucket = managed.buckets[2];
const badSecret = managed.secrets[1];

test.before(loud(async () => {
  sb = await startFullProject();
}));
test.after(async () => {
  await sb?.stop();
});

test('one bucket and one secret fail permanently: the rest is deleted, both failures reported, exit non-zero', async () => {
  await sb.faults({
    errors: [
      { method: 'DELETE', path: `/b/${badBucket}`, status: 403, message: 'Bucket is locked by a retention policy (injected).' },
      { method: 'DELETE', path: `/secrets/${badSecret}`, status: 403, message: 'Secret is protected (injected).' },
    ],
  });
  const r = await sb.cli(['cleanup', '--yes', '--', '--timeout=90', '--all']);
  await sb.faults({});
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /Failed \(2\):/);
  assert.match(r.stderr, new RegExp(`bucket ${badBucket}: [^\\n]*`));
  assert.match(r.stderr, new RegExp(`secret ${badSecret}: [^\\n]*Secret is protected`));
  assert.match(r.stderr, /cleanup: 2 deletions failed \(see the summary above\)/);
  assert.not.match(r.stderr, /at .*\/tasks\/cleanup\.ts:\d+/, 'no stack trace');

  const after = await existingNames(sb);
  assert.equal(after.buckets.filter((b) => managed.buckets.includes(b)), [badBucket]);
  assert.equal(after.secrets.filter((s) => managed.secrets.includes(s)), [badSecret]);
  for (const gone of [...managed.services, ...managed.sql, ...managed.registries]) assert.not.ok([...after.services, ...after.sql, ...after.registries].includes(gone), `${gone} deleted`);
  assert.not.ok(after.sas.includes(managed.sas[0]), 'service account deleted');
  assert.ok(after.buckets.includes(foreign.bucket) && after.services.includes(foreign.service), 'foreign resources left alone');
});

test('once the cause is gone, running cleanup again deletes what is left', async () => {
  const r = await sb.cli(['cleanup', '--yes', '--', '--timeout=90', '--all']);
  expectCode(r, 0, 'second cleanup');
  assert.match(r.stderr, /Deleted \(2\):/);
  const after = await existingNames(sb);
  assert.not.ok(after.buckets.includes(badBucket));
  assert.not.ok(after.secrets.includes(badSecret));
});

test.run();
