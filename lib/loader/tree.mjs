// The project's TypeScript compiled ahead into a tree of plain ES modules, so `pnpm task` runs on node alone:
// module hooks (register.mjs) answer every import from a separate thread, one round trip per module, and that
// costs more than everything else a cached run does, many times more on a busy machine. The tree mirrors the
// absolute paths of the sources under node_modules/.cache, so relative imports need no rewriting and packages
// resolve from this repository's node_modules. An entry's module graph is recorded with each file's size and
// modification time; a start that finds them unchanged only stats the files, and a change recompiles the graph.
// Plain JavaScript: it runs before anything can be transpiled.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/gcp-tasks/', import.meta.url));
const treeDir = path.join(cacheDir, 'tree');
const graphsDir = path.join(cacheDir, 'tree-graphs');
// Bumped when the compiled output changes shape: older trees are not reused.
const FORMAT = 4;
// Compiled for the node that runs it (import attributes, for one, are kept only from 20.10 on).
const TARGET = `node${process.versions.node}`;
const TS = /\.ts$/;
const toolRoot = fileURLToPath(new URL('../../', import.meta.url));
// Packages of many small modules, bundled into one module each for the tool's own sources: zod's ~95 modules
// take twice as long to load one by one as in one file, undici's ~100 three times, and yaml has ~60. A config
// elsewhere keeps its own packages.
const VENDORED = ['zod', 'undici', 'yaml'];

let active = false;

/** True once the running program was loaded from the tree: modules it imports later must come from it too. */
export const treeActive = () => active;

/** Marks the program as loaded from the tree (by the entry point that imported it). */
export function useTree() {
  active = true;
}

/** Where the compiled module of a TypeScript source lives. */
export const compiledPath = (source) => path.join(treeDir, source.replace(TS, '.js'));

/** The source of a compiled module (any other file is its own source). */
export function sourcePath(file) {
  if (!file.startsWith(`${treeDir}${path.sep}`)) return file;
  return file.slice(treeDir.length).replace(/\.js$/, '.ts');
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function stamp(file) {
  const st = fs.statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

/** The recorded graph of `entry` when every source in it, and its compiled module, is still there unchanged. */
function upToDate(graphFile) {
  try {
    const graph = JSON.parse(fs.readFileSync(graphFile, 'utf8'));
    if (graph.format !== FORMAT || graph.target !== TARGET) return false;
    return (
      Object.entries(graph.sources).every(([source, was]) => stamp(source) === was && fs.existsSync(compiledPath(source))) &&
      Object.values(graph.vendored).every((v) => stamp(v.manifest) === v.stamp && fs.existsSync(v.file))
    );
  } catch {
    return false;
  }
}

function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file); // a start-up running meanwhile reads the old module or the new one, never half
}

/**
 * A package to bundle: its package.json (with the stamp a start-up compares) and its bundle's file, named by the
 * package's version so an upgrade is never served stale.
 */
function vendoredPackage(name) {
  const manifest = path.join(toolRoot, 'node_modules', name, 'package.json');
  const { version, type } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  return { name, manifest, stamp: stamp(manifest), isModule: type === 'module', file: path.join(treeDir, 'vendor', `${name}@${version}.js`) };
}

/**
 * An ES module that re-exports the package. A CommonJS package's names are only known by loading it, and a
 * bundle must declare them: they are listed.
 */
function reexports(pkg) {
  if (pkg.isModule) return `export * from '${pkg.name}'; export { default } from '${pkg.name}';`;
  const names = Object.keys(createRequire(path.join(toolRoot, 'package.json'))(pkg.name)).filter((key) => /^[A-Za-z_$][\w$]*$/.test(key) && key !== 'default');
  return `import m from '${pkg.name}'; export default m; export const { ${names.join(', ')} } = m;`;
}

async function bundleVendored(esbuild, pkg) {
  if (fs.existsSync(pkg.file)) return;
  const { outputFiles } = await esbuild.build({
    stdin: { contents: reexports(pkg), resolveDir: toolRoot, loader: 'js' },
    // CommonJS code in an ES module: its require() of node's builtins needs a require to call.
    banner: { js: `import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);` },
    bundle: true, write: false, platform: 'node', format: 'esm', target: TARGET, logLevel: 'silent', outfile: pkg.file,
  });
  writeAtomic(pkg.file, outputFiles[0].text);
}

const isPath = (specifier) => /^(\.{1,2}\/|\/|file:)/.test(specifier);

/**
 * Every import keeps its meaning from the tree: a relative one to TypeScript stays as written (the tree has
 * the same layout), an absolute one to TypeScript points into the tree, and one to any other file (JSON, .mjs)
 * points at that file where it is. Packages and node: builtins stay bare.
 */
function importsPlugin(vendored) {
  return {
    name: 'tree-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        if (Object.hasOwn(vendored, args.path) && args.importer.startsWith(toolRoot)) return { path: vendored[args.path].file, external: true };
        if (!isPath(args.path)) return { path: args.path, external: true };
        const target = args.path.startsWith('file:') ? fileURLToPath(args.path) : path.resolve(args.resolveDir, args.path);
        // TypeScript's NodeNext style: the source says `./x.js`, the file on disk is `./x.ts`.
        const ts = TS.test(target) ? target : target.replace(/\.js$/, '.ts');
        if (TS.test(target) || (ts !== target && fs.existsSync(ts))) {
          return { path: args.path.startsWith('.') ? args.path.replace(TS, '.js') : compiledPath(ts), external: true };
        }
        return { path: target, external: true };
      });
      // A module's own location stays its source's: package.json and cache folders are found next to it.
      build.onLoad({ filter: TS }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        const contents = source
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
          .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(path.dirname(args.path)))
          .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
        return { contents, loader: 'ts' };
      });
    },
  };
}

async function compile(entry, graphFile) {
  const esbuild = await import('esbuild');
  const common = { absWorkingDir: '/', bundle: true, write: false, platform: 'node', format: 'esm', target: TARGET, logLevel: 'silent' };
  // The module graph, dynamic imports with a literal path included.
  const { metafile } = await esbuild.build({ ...common, entryPoints: [entry], metafile: true, packages: 'external', outdir: '/out' });
  const sources = Object.keys(metafile.inputs).map((input) => path.resolve('/', input)).filter((file) => TS.test(file));
  // Stamped before compiling: a file saved meanwhile is compiled again next time, never trusted stale.
  const stamps = Object.fromEntries(sources.map((source) => [source, stamp(source)]));
  const vendored = Object.fromEntries(VENDORED.map((name) => [name, vendoredPackage(name)]));
  for (const pkg of Object.values(vendored)) await bundleVendored(esbuild, pkg);
  const { outputFiles } = await esbuild.build({
    ...common,
    entryPoints: sources,
    outdir: treeDir,
    outbase: '/',
    sourcemap: 'linked', // a file of its own, read only when source maps are on
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    plugins: [importsPlugin(vendored)],
  });
  writeAtomic(path.join(treeDir, 'package.json'), '{ "type": "module" }\n');
  for (const out of outputFiles) writeAtomic(out.path, out.text);
  writeAtomic(graphFile, JSON.stringify({ format: FORMAT, target: TARGET, entry, sources: stamps, vendored }));
}

/**
 * The URL of `entry`'s compiled module, its whole graph compiled when any source in it changed. Throws what
 * esbuild reports for a source that does not compile.
 */
export async function compiledUrl(entry) {
  const graphFile = path.join(graphsDir, `${sha256(entry).slice(0, 32)}.json`);
  if (!upToDate(graphFile)) await compile(entry, graphFile);
  return pathToFileURL(compiledPath(entry)).href;
}
