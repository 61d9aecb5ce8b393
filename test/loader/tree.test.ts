// The compiled tree `pnpm task` runs from: every import keeps its meaning (relative and absolute TypeScript,
// JSON beside the source, packages), a module still sees its source's location, a compiled module maps back
// to its source, and an edited source is compiled again while an unchanged graph is not.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compiledPath, compiledUrl, sourcePath } from '../../lib/loader/tree.mjs';
import { tempDir } from '../helpers/engine.js';
import { repoRoot } from '../helpers/cli.js';

function project() {
  const t = tempDir();
  const write = (file: string, text: string) => fs.writeFileSync(path.join(t.dir, file), text);
  write('data.json', '{ "answer": 42 }\n');
  write('helper.ts', `export const greeting: string = 'hello';\n`);
  write('absolute.ts', `export const where = 'absolute';\n`);
  write(
    'entry.ts',
    [
      `import { greeting } from './helper.js';`,
      `import { where } from ${JSON.stringify(path.join(t.dir, 'absolute.js'))};`,
      `import data from './data.json' with { type: 'json' };`,
      `import { z } from 'zod';`,
      `const lazy = await import('./helper.js');`,
      `export default { greeting, where, answer: data.answer, lazy: lazy.greeting, zod: typeof z.string, url: import.meta.url };`,
    ].join('\n') + '\n',
  );
  return { ...t, entry: path.join(t.dir, 'entry.ts'), write };
}

/** Imports a compiled module in a fresh node with no hooks at all: only the tree can make it load. */
function runCompiled(url: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.default));`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a compiled entry runs on plain node with every import meaning what it did in the source', async () => {
  const p = project();
  try {
    const url = await compiledUrl(p.entry);
    assert.is(url, pathToFileURL(compiledPath(p.entry)).href);
    assert.equal(runCompiled(url), { greeting: 'hello', where: 'absolute', answer: 42, lazy: 'hello', zod: 'function', url: pathToFileURL(p.entry).href });
    assert.is(sourcePath(compiledPath(path.join(p.dir, 'helper.ts'))), path.join(p.dir, 'helper.ts'));
    assert.is(sourcePath(p.entry), p.entry, 'a file outside the tree is its own source');
  } finally {
    p.cleanup();
  }
});

test('an edited source is compiled again; an unchanged graph is left as it is', async () => {
  const p = project();
  try {
    const url = await compiledUrl(p.entry);
    const compiledHelper = compiledPath(path.join(p.dir, 'helper.ts'));
    const before = fs.statSync(compiledHelper).mtimeMs;
    await compiledUrl(p.entry);
    assert.is(fs.statSync(compiledHelper).mtimeMs, before, 'nothing changed, nothing recompiled');

    p.write('helper.ts', `export const greeting: string = 'hello again';\n`);
    await compiledUrl(p.entry);
    assert.is(runCompiled(url).greeting, 'hello again');
  } finally {
    p.cleanup();
  }
});

test("the tool's own modules load zod and undici as one bundled module each, with every name the packages export", async () => {
  const rest = path.join(repoRoot, 'lib', 'gcp', 'rest.ts');
  await compiledUrl(rest);
  const compiled = fs.readFileSync(compiledPath(rest), 'utf8');
  const vendored = [...compiled.matchAll(/["']([^"']*\/vendor\/(zod|undici)@[^"']+\.js)["']/g)].map((m) => m[1]!);
  assert.equal([...new Set(vendored.map((v) => path.basename(v).split('@')[0]))].sort(), ['undici', 'zod']);
  const script = `
    const [zod, undici] = await Promise.all(${JSON.stringify([...new Set(vendored)].sort().reverse())}.map((f) => import(f)));
    const real = { zod: await import('zod'), undici: await import('undici') };
    const missing = (mine, theirs) => Object.keys(theirs).filter((k) => !(k in mine));
    console.log(JSON.stringify({ zod: missing(zod, real.zod), undici: missing(undici, real.undici), parse: zod.z.string().parse('ok'), agent: typeof new undici.Agent().dispatch }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: repoRoot });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { zod: [], undici: [], parse: 'ok', agent: 'function' });
});

test('a source that does not compile is reported with its file and line', async () => {
  const p = project();
  try {
    p.write('helper.ts', `export const greeting: string = ;\n`);
    const error = await compiledUrl(p.entry).then(() => null, (e: Error) => e);
    assert.ok(error, 'compiling must fail');
    assert.match(error!.message, /helper\.ts:1:\d+/);
  } finally {
    p.cleanup();
  }
});

test.run();
