import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureProject } from '../helpers/cli.js';

test('GITHUB_ACTIONS=true: one ::group:: per task that printed, ::error:: for a failure, a Markdown summary in $GITHUB_STEP_SUMMARY', async () => {
  const t = fixtureProject();
  const summaryFile = path.join(t.dir, 'step-summary.md');
  fs.writeFileSync(summaryFile, '# earlier step\n');
  const r = await t.cli(['deploy:app', '-k', 'lint'], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summaryFile, FAIL_TASK: 'lint', DIGEST: 'sha256:1' });
  assert.is(r.code, 1, r.stderr);
  const out = r.stderr;
  const opened = out.match(/^::group::/gm)?.length ?? 0;
  assert.ok(opened > 0, out);
  assert.is(out.match(/^::endgroup::$/gm)?.length, opened, 'every group is closed');
  // Groups never nest or interleave: each ::group:: is closed before the next opens.
  let open = 0;
  for (const line of out.split('\n')) {
    if (line.startsWith('::group::')) assert.is(open++, 0, 'a group opened inside another');
    if (line === '::endgroup::') assert.is(--open, 0);
  }
  assert.match(out, /^::group::✔ build:image ran \(/m);
  assert.match(out, /^::error title=lint failed::lint found 3 problems%0AHint: run the linter locally$/m);
  const md = fs.readFileSync(summaryFile, 'utf8');
  assert.ok(md.startsWith('# earlier step\n'), 'appended, not overwritten');
  assert.match(md, /^### ✖ development.*: /m);
  assert.match(md, '| Task | Status | Time | Why |');
  assert.match(md, /^\| `lint` \| failed \| .* \| lint found 3 problems \|$/m);
  assert.match(md, /^\| `build:image` \| ran \|/m);
  t.cleanup();
});

test('without GITHUB_ACTIONS the output has no workflow commands and no step summary is written', async () => {
  const t = fixtureProject();
  const summaryFile = path.join(t.dir, 'step-summary.md');
  const r = await t.cli(['deploy:app'], { GITHUB_STEP_SUMMARY: summaryFile, DIGEST: 'sha256:1' });
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, '::group::');
  assert.not.ok(fs.existsSync(summaryFile));
  t.cleanup();
});

test.run();
