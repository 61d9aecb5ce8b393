// The compiled program `pnpm task` runs from: every import keeps its meaning (relative and absolute TypeScript,
// JSON beside the source, packages, lazy imports), a module still sees its source's location, entries share one
// instance of what they both import, a line of a chunk maps back to its module, and an edited source is
// compiled again while an unchanged program is not.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileProgram, type Program } from '../../lib/loader/program.mjs';
import { tempDir } from '../helpers/engine.js';

function project() {
  const t = tempDir();
  const write = (file: string, text: string) => fs.writeFileSync(path.join(t.dir, file), text);
  write('data.json', '{ "answer": 42 }\n');
  write('helper.ts', `export const greeting: string = 'hello';\nexport function whereAmI() { return new Error('marker-in-helper').stack; }\n`);
  write('shared.ts', `export const registry = new Set<string>();\n`);
  write('absolute.ts', `export const where = 'absolute';\n`);
  write(
    'entry.ts',
    [
      `import { greeting } from './helper.js';`,
      `import { where } from ${JSON.stringify(path.join(t.dir, 'absolute.js'))};`,
      `import data from './data.json' with { type: 'json' };`,
      `import { z } from 'zod';`,
      `import { registry } from './shared.js';`,
      `const lazy = await import('./helper.js');`,
      `const undici = await import('undici');`,
      `registry.add('entry');`,
      `export { registry };`,
      `export default { greeting, where, answer: data.answer, lazy: lazy.greeting, zod: typeof z.string, agent: typeof undici.Agent, url: import.meta.url };`,
    ].join('\n') + '\n',
  );
  write('config.ts', `import { registry } from './shared.js';\nregistry.add('config');\nexport default [...registry];\n`);
  return { ...t, entry: path.join(t.dir, 'entry.ts'), config: path.join(t.dir, 'config.ts'), write };
}

const urlOf = (program: Program, entry: string) => pathToFileURL(path.join(program.dir, program.entries[entry]!)).href;

/** Runs `script` (an ES module body) in a fresh node with no hooks at all: only the program can make it load. */
function run(script: string): unknown {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a compiled entry runs on plain node with every import meaning what it did in the source', async () => {
  const p = project();
  try {
    const program = await compileProgram([p.entry]);
    const got = run(`const m = await import(${JSON.stringify(urlOf(program, p.entry))}); console.log(JSON.stringify(m.default));`);
    assert.equal(got, { greeting: 'hello', where: 'absolute', answer: 42, lazy: 'hello', zod: 'function', agent: 'function', url: pathToFileURL(p.entry).href });
  } finally {
    p.cleanup();
  }
});

test('two entries of one program share a single instance of every module both import', async () => {
  const p = project();
  try {
    const program = await compileProgram([p.entry, p.config]);
    const got = run(
      `const a = await import(${JSON.stringify(urlOf(program, p.entry))}); const b = await import(${JSON.stringify(urlOf(program, p.config))}); console.log(JSON.stringify({ seenByConfig: b.default, same: [...a.registry] }));`,
    );
    assert.equal(got, { seenByConfig: ['entry', 'config'], same: ['entry', 'config'] });
  } finally {
    p.cleanup();
  }
});

test('a line of a compiled chunk maps back to the module whose code it is', async () => {
  const p = project();
  try {
    const program = await compileProgram([p.entry]);
    const found = Object.entries(program.modules).flatMap(([chunk]) => {
      const lines = fs.readFileSync(path.join(program.dir, chunk), 'utf8').split('\n');
      const at = lines.findIndex((l) => l.includes('marker-in-helper'));
      return at < 0 ? [] : [{ chunk, line: at + 1 }];
    });
    assert.is(found.length, 1, 'the helper is compiled once');
    const script = `import { useProgram, sourceAt } from ${JSON.stringify(pathToFileURL(path.resolve('lib/loader/program.mjs')).href)};
      useProgram(${JSON.stringify(program)});
      console.log(JSON.stringify([sourceAt(${JSON.stringify(path.join(program.dir, found[0]!.chunk))}, ${found[0]!.line}), sourceAt('/elsewhere.js', 3)]));`;
    assert.equal(run(script), [path.join(p.dir, 'helper.ts'), '/elsewhere.js']);
  } finally {
    p.cleanup();
  }
});

test('an edited source is compiled again; an unchanged program is left as it is', async () => {
  const p = project();
  try {
    const first = await compileProgram([p.entry]);
    const record = path.join(first.dir, 'program.json');
    const before = fs.statSync(record).ino;
    await compileProgram([p.entry]);
    assert.is(fs.statSync(record).ino, before, 'nothing changed, nothing recompiled (a compile writes a new record)');

    p.write('helper.ts', `export const greeting: string = 'hello again';\n`);
    const second = await compileProgram([p.entry]);
    const got = run(`const m = await import(${JSON.stringify(urlOf(second, p.entry))}); console.log(JSON.stringify(m.default.greeting));`);
    assert.is(got, 'hello again');
  } finally {
    p.cleanup();
  }
});

test('a source that does not compile is reported with its file and line', async () => {
  const p = project();
  try {
    p.write('helper.ts', `export const greeting: string = ;\n`);
    const error = await compileProgram([p.entry]).then(() => null, (e: Error) => e);
    assert.ok(error, 'compiling must fail');
    assert.match(error!.message, new RegExp(`${path.join(p.dir, 'helper.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+`));
  } finally {
    p.cleanup();
  }
});

test.run();
