// The compiled program `pnpm task` runs from: every import keeps its meaning (relative and absolute TypeScript,
// JSON beside the source, packages, lazy imports), a module still sees its source's location, a config compiled
// in loads lazily and shares one instance of every module with the CLI, a line of the script maps back to its
// module, V8's code cache is written once and then used, and an edited source is compiled again while an
// unchanged program is not.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileProgram, type Program } from '../../lib/loader/program.cjs';
import { tempDir } from '../helpers/engine.js';
import { repoRoot } from '../helpers/cli.js';

const PROGRAM_KEY = `globalThis[Symbol.for('gcp-tasks.program')]`;

function project() {
  const t = tempDir();
  const write = (file: string, text: string) => fs.writeFileSync(path.join(t.dir, file), text);
  write('data.json', '{ "answer": 42 }\n');
  write(
    'helper.ts',
    [
      `export const greeting: string = 'hello';`,
      `// Text beyond ASCII, in a comment (résumé → ✔) and in code, where it must come out as written.`,
      `export const symbols = { text: 'déjà → ✔ 🚀', template: \`naïve \${'→'}\`, matches: /^[→✔]+$/u.test('✔→') };`,
      `/** This function's own file and line, as the V8 stack sees them. */`,
      `export function whereAmI(): [string, number] {`,
      `  const original = Error.prepareStackTrace;`,
      `  Error.prepareStackTrace = (_e, frames) => frames;`,
      `  const frame = (new Error().stack as unknown as NodeJS.CallSite[])[0]!;`,
      `  Error.prepareStackTrace = original;`,
      `  return [frame.getFileName()!, frame.getLineNumber()!];`,
      `}`,
    ].join('\n') + '\n',
  );
  write('shared.ts', `export const registry: string[] = [];\n`);
  write('absolute.ts', `export const where = 'absolute';\n`);
  write('config.ts', `import { registry } from './shared.js';\nregistry.push('config');\nexport default [...registry];\n`);
  write(
    'entry.ts',
    [
      `import { greeting, symbols, whereAmI } from './helper.js';`,
      `import { where } from ${JSON.stringify(path.join(t.dir, 'absolute.js'))};`,
      `import data from './data.json' with { type: 'json' };`,
      `import { z } from 'zod';`,
      `import { registry } from './shared.js';`,
      `registry.push('entry');`,
      `const program = ${PROGRAM_KEY};`,
      `void (async () => {`,
      `  const lazy = await import('./helper.js');`,
      `  const undici = await import('undici');`,
      `  // A config not compiled in is refused (its load rejects).`,
      `  const config = await program.config(${JSON.stringify(path.join(t.dir, 'config.ts'))}).then((m: { default: string[] }) => m.default, () => null);`,
      `  const [file, line] = whereAmI();`,
      `  console.log(JSON.stringify({ greeting, where, answer: data.answer, lazy: lazy.greeting, zod: typeof z.string, agent: typeof undici.Agent, symbols,`,
      `    url: import.meta.url, config, registry, helperSource: program.sourceAt(file, line) }));`,
      `})();`,
    ].join('\n') + '\n',
  );
  return { ...t, entry: path.join(t.dir, 'entry.ts'), config: path.join(t.dir, 'config.ts'), write };
}

/** Runs `program` in a fresh node with no hooks at all, as `pnpm task` does: only the program can make it load. */
function run(program: Program): Record<string, unknown> {
  const loader = pathToFileURL(path.join(repoRoot, 'lib', 'loader', 'program.cjs')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { runProgram } from ${JSON.stringify(loader)}; await runProgram(${JSON.stringify(program)});`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a compiled program runs on plain node with every import meaning what it did in the source', async () => {
  const p = project();
  try {
    const got = run(await compileProgram(p.entry));
    assert.equal(
      { ...got, helperSource: undefined },
      { greeting: 'hello', where: 'absolute', answer: 42, lazy: 'hello', zod: 'function', agent: 'function', symbols: { text: 'déjà → ✔ 🚀', template: 'naïve →', matches: true }, url: pathToFileURL(p.entry).href, config: null, registry: ['entry'], helperSource: undefined },
    );
  } finally {
    p.cleanup();
  }
});

test('the script is ASCII whatever its sources hold (it is read as one byte a character)', async () => {
  const p = project();
  try {
    const program = await compileProgram(p.entry);
    assert.not.ok(/[^\x00-\x7f]/.test(fs.readFileSync(program.file, 'utf8')), 'no character beyond ASCII in the script');
  } finally {
    p.cleanup();
  }
});

test('a config compiled in loads when asked, after the CLI, with one instance of every module both import', async () => {
  const p = project();
  try {
    const got = run(await compileProgram(p.entry, [p.config]));
    assert.equal(got.config, ['entry', 'config'], 'the config ran after the entry and saw its registry');
    assert.equal(got.registry, ['entry', 'config'], 'the entry sees what the config added: one registry');
  } finally {
    p.cleanup();
  }
});

test("a line of the program's script maps back to the module whose code it is", async () => {
  const p = project();
  try {
    assert.is(run(await compileProgram(p.entry)).helperSource, path.join(p.dir, 'helper.ts'));
  } finally {
    p.cleanup();
  }
});

test("V8's code cache is written by the first run and used, not rewritten, by the next", async () => {
  const p = project();
  try {
    const program = await compileProgram(p.entry);
    assert.not.ok(fs.existsSync(program.cacheFile), 'no cache before any run');
    run(program);
    const first = fs.statSync(program.cacheFile);
    assert.ok(first.size > 0, 'the first run wrote the cache');
    run(program);
    assert.is(fs.statSync(program.cacheFile).ino, first.ino, 'the second run accepted the cache (a refused one is rewritten)');
  } finally {
    p.cleanup();
  }
});

test('an edited source is compiled again; an unchanged program is left as it is', async () => {
  const p = project();
  try {
    const first = await compileProgram(p.entry);
    const record = path.join(first.dir, 'program.json');
    const before = fs.statSync(record).ino;
    await compileProgram(p.entry);
    assert.is(fs.statSync(record).ino, before, 'nothing changed, nothing recompiled (a compile writes a new record)');

    p.write('helper.ts', fs.readFileSync(path.join(p.dir, 'helper.ts'), 'utf8').replace(`'hello'`, `'hello again'`));
    assert.is(run(await compileProgram(p.entry)).greeting, 'hello again');
  } finally {
    p.cleanup();
  }
});

test('a source that does not compile is reported with its file and line', async () => {
  const p = project();
  try {
    p.write('helper.ts', `export const greeting: string = ;\n`);
    const error = await compileProgram(p.entry).then(() => null, (e: Error) => e);
    assert.ok(error, 'compiling must fail');
    assert.match(error!.message, new RegExp(`${path.join(p.dir, 'helper.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+`));
  } finally {
    p.cleanup();
  }
});

test.run();
