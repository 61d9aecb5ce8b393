// Module hooks that run the project's TypeScript with plain node: `./x.js` imports find `./x.ts`, and a .ts
// module is transpiled once by esbuild and then read from a cache keyed by its content, so a start-up that
// changed nothing loads no compiler at all. Plain JavaScript: it runs before anything can be transpiled.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/gcp-tasks/ts/', import.meta.url));
// A different esbuild or different options must not reuse another's output.
const OPTIONS = { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } } };
const OPTIONS_KEY = JSON.stringify(OPTIONS);
let esbuild;

const isTs = (url) => url.startsWith('file:') && /\.[cm]?tsx?$/.test(url);
const isRelative = (specifier) => specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/') || specifier.startsWith('file:');

export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  // TypeScript's NodeNext style: the source says `./x.js`, the file on disk is `./x.ts`.
  if (parent?.startsWith('file:') && !parent.includes('/node_modules/') && isRelative(specifier) && specifier.endsWith('.js')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (fs.existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!isTs(url)) return next(url, context);
  const file = fileURLToPath(url);
  const source = fs.readFileSync(file, 'utf8');
  const key = createHash('sha256').update(OPTIONS_KEY).update('\0').update(file).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.mjs`);
  try {
    return { format: 'module', source: fs.readFileSync(cached, 'utf8'), shortCircuit: true };
  } catch {
    // not compiled yet
  }
  esbuild ??= await import('esbuild');
  const { code } = await esbuild.transform(source, { ...OPTIONS, sourcefile: file });
  // Written to a temporary name and renamed: a concurrent start-up reads the old state or the whole file.
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    // a read-only install still runs, it just compiles each time
  }
  return { format: 'module', source: code, shortCircuit: true };
}
