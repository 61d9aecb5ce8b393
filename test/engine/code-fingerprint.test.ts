// A task's code fingerprint is the module that defines it and the project modules that imports: editing a
// helper it imports reruns it, editing an unrelated module or only reformatting does not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { codeFingerprints } from '../../lib/engine/code-hash.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/engine.js';

const libIndex = JSON.stringify(path.join(repoRoot, 'lib', 'index.js'));

/** A project: `uses-helper` imports helper.ts, `unrelated` lives in other.ts, `inline` is a plain object in the config. */
function project() {
  const t = tempDir();
  const write = (file: string, text: string) => fs.writeFileSync(path.join(t.dir, file), text);
  write('helper.ts', `export const TAG = 'candidate';\n`);
  write('other.ts', `export const OTHER = 1;\n`);
  write(
    'uses-helper.ts',
    `import { defineTask } from ${libIndex};\nimport { TAG } from './helper.js';\n` +
      `export const usesHelper = defineTask({ name: 'uses-helper', description: 'imports helper', run: async () => ({ tag: TAG }) });\n`,
  );
  write(
    'unrelated.ts',
    `import { defineTask } from ${libIndex};\nimport { OTHER } from './other.js';\n` +
      `export const unrelated = defineTask({ name: 'unrelated', description: 'imports other', run: async () => ({ other: OTHER }) });\n`,
  );
  write(
    'tasks.config.ts',
    `import { defineConfig } from ${libIndex};\nimport { usesHelper } from './uses-helper.js';\nimport { unrelated } from './unrelated.js';\n` +
      `export default defineConfig({ tasks: [usesHelper, unrelated, { name: 'inline', description: 'no defineTask', run: async () => {} }] });\n`,
  );
  const cli = async () => {
    const r = await runCli(['uses-helper', 'unrelated', 'inline', '--json'], { cwd: t.dir, env: { GCP_TASKS_STATE_DIR: t.stateDir } });
    assert.is(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { tasks: { name: string; status: string; reason?: string }[] };
    return Object.fromEntries(summary.tasks.map((x) => [x.name, x.status === 'cached' ? 'cached' : x.reason ?? x.status]));
  };
  return { t, write, edit: (file: string, edit: (text: string) => string) => write(file, edit(fs.readFileSync(path.join(t.dir, file), 'utf8'))), cli };
}

test('a helper edit reruns the tasks whose modules import it; an unrelated edit or a reformat reruns nothing', async () => {
  const p = project();
  try {
    const first = await p.cli();
    assert.equal(Object.keys(first).sort(), ['inline', 'unrelated', 'uses-helper']);
    assert.equal(await p.cli(), { 'uses-helper': 'cached', unrelated: 'cached', inline: 'cached' });

    p.edit('helper.ts', (s) => `// the candidate tag\n\n${s.replace("'candidate'", "'candidate'   ")}\n\n`);
    assert.equal(await p.cli(), { 'uses-helper': 'cached', unrelated: 'cached', inline: 'cached' }, 'comments and whitespace only');

    p.edit('helper.ts', (s) => s.replace("'candidate'", "'next'"));
    assert.equal(await p.cli(), { 'uses-helper': 'task definition changed', unrelated: 'cached', inline: 'task definition changed' });

    p.edit('other.ts', (s) => s.replace('1', '2'));
    assert.equal(await p.cli(), { 'uses-helper': 'cached', unrelated: 'task definition changed', inline: 'task definition changed' });
  } finally {
    p.t.cleanup();
  }
});

test("the real config: editing tasks/deploy/rollout.ts moves deploy:*'s code fingerprint, not a setup task's", async () => {
  const { loadConfig } = await import('../../lib/engine/config.js');
  const { taskSource } = await import('../../lib/engine/task-source.js');
  const { config } = await loadConfig(path.join(repoRoot, 'tasks.config.ts'));
  const byName = new Map(config.tasks.map((t) => [t.name, t]));
  // A copy of the project's code, so the edit touches no file of the checkout.
  const t = tempDir();
  try {
    for (const dir of ['lib', 'tasks']) fs.cpSync(path.join(repoRoot, dir), path.join(t.dir, dir), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, 'tasks.config.ts'), path.join(t.dir, 'tasks.config.ts'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(t.dir, 'node_modules'));
    const inCopy = (name: string) => path.join(t.dir, path.relative(repoRoot, taskSource(byName.get(name)!)!));
    const names = ['deploy:api-gateway', 'deploy:all', 'apis:enable', 'sql:create'];
    const entries = [path.join(t.dir, 'tasks.config.ts'), ...names.map(inCopy)];
    const prints = async () => {
      const all = await codeFingerprints(entries, t.dir);
      return Object.fromEntries(names.map((n) => [n, all.get(inCopy(n))]));
    };
    const before = await prints();
    for (const n of names) assert.ok(before[n], `${n} has a code fingerprint`);
    const rollout = path.join(t.dir, 'tasks', 'deploy', 'rollout.ts');
    const text = fs.readFileSync(rollout, 'utf8');
    assert.match(text, /CANDIDATE_TAG = '/);
    fs.writeFileSync(rollout, text.replace(/CANDIDATE_TAG = '/, "CANDIDATE_TAG = 'x"));
    const after = await prints();
    assert.is.not(after['deploy:api-gateway'], before['deploy:api-gateway']);
    assert.is.not(after['deploy:all'], before['deploy:all']);
    assert.is(after['apis:enable'], before['apis:enable']);
    assert.is(after['sql:create'], before['sql:create']);
  } finally {
    t.cleanup();
  }
});

test.run();
