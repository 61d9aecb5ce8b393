// The CLI and its config compiled ahead by esbuild into one program, a single CommonJS script that `pnpm task`
// runs on node alone, with V8's code cache. Module hooks (register.mjs) answer every import from a separate
// thread; plain ES modules still cost node a resolution, a read and a link each, and V8 compiles every one of
// them again on each start (Node 20 keeps no compile cache for ES modules). One script is read once, and its
// code cache, written after a run, holds the functions that run compiled: the next start skips compiling them.
// A CommonJS script loads other packages with require, which cannot load an ES module in Node 20: packages that
// are ES modules only are bundled in too.
// The config is a lazy module of the script: the CLI loads it when it needs it, and the modules both use exist
// once (the secret registry among them). Of the packages that require can load, only those in BUNDLED come in;
// zx, packages that find files of their own (WebAssembly, a native binary), and the packages a config outside
// the tool imports load from where they are installed.
// Each program's record lists every input with its size and modification time; a start that finds them
// unchanged only stats the files, and a change recompiles. Plain JavaScript: it runs before anything can be
// transpiled.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');

const { createRequire } = Module;
const toolRoot = path.resolve(__dirname, '..', '..') + path.sep;
const programsDir = path.join(toolRoot, 'node_modules', '.cache', 'gcp-tasks', 'programs');
// Compiled for the node that runs it.
const TARGET = `node${process.versions.node}`;
const TS = /\.[cm]?tsx?$/;
// Packages of many small modules that every run loads, bundled into the program: loading zod's ~95 modules,
// undici's ~100 or yaml's ~60 one by one takes several times as long as in one file.
const BUNDLED = ['zod', 'undici', 'yaml', 'listr2', 'ignore', 'picomatch', 'dotenv', 'p-limit', 'write-file-atomic'];
// Programs nothing has run for a day (a config in a folder long gone, most often) are removed.
const STALE_MS = 24 * 60 * 60 * 1000;
const CONFIGS = 'gcp-tasks-configs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function stamp(file) {
  const st = fs.statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

function writeAtomic(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file); // a start-up running meanwhile reads the old file or the new one, never half
}

/** Marks a program as used (its record's time), so it is not removed as stale. */
function touch(file) {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // a read-only install keeps everything
  }
}

/** The recorded program when every input is unchanged and its script is there, else undefined. */
function upToDate(dir) {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'program.json'), 'utf8'));
    if (record.target !== TARGET || !record.script || !fs.existsSync(path.join(dir, record.script))) return undefined;
    if (!Object.entries(record.inputs).every(([file, was]) => stamp(file) === was)) return undefined;
    touch(path.join(dir, 'program.json'));
    return withPaths(record, dir);
  } catch {
    return undefined;
  }
}

const withPaths = (record, dir) => ({ ...record, dir, file: path.join(dir, record.script), cacheFile: path.join(dir, `${record.script}.v8cache`) });

/**
 * A TypeScript module keeps its source's location: `import.meta.url` and its kin name the source, so files it
 * finds beside itself (package.json, cache folders) are the ones it found before compiling.
 */
const sourceLocation = {
  name: 'source-location',
  setup(build) {
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

const packageName = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** Whether node resolves a file as CommonJS (by extension, else by the nearest package.json's type). */
function isCommonJs(file) {
  if (/\.(cjs|json|node)$/.test(file)) return true;
  if (!/\.js$/.test(file)) return false;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')).type !== 'module';
  }
  return true;
}

/**
 * Whether `specifier` is a package `require` cannot load (an ES module only: no require of those before node 22),
 * looked up from its importer, else from the tool (where the script will look). One found nowhere is left to
 * node to report.
 */
function esModuleOnly(specifier, importer) {
  for (const from of [importer, path.join(toolRoot, 'package.json')]) {
    try {
      return !isCommonJs(createRequire(from).resolve(specifier));
    } catch (error) {
      if (error?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return true;
    }
  }
  return false;
}

/**
 * Which packages come into the program: those of BUNDLED the tool's own modules import, and any package only
 * an ES module can load (the script is CommonJS), each with what it imports. The others load from where they
 * are installed, through require.
 */
const packages = {
  name: 'packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.namespace === CONFIGS || args.path.startsWith('node:') || args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      if (args.importer.startsWith(toolRoot) && BUNDLED.includes(packageName(args.path))) return undefined;
      return esModuleOnly(args.path, args.importer) ? undefined : { path: args.path, external: true };
    });
  },
};

/** The entry's first module: it gives the launcher each config as a lazy import, before the CLI starts. */
const configsModule = (configs) => ({
  name: 'configs',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^${CONFIGS}$`) }, () => ({ path: CONFIGS, namespace: CONFIGS }));
    build.onLoad({ filter: /.*/, namespace: CONFIGS }, () => ({
      contents: configs.map((c) => `globalThis[Symbol.for(${JSON.stringify(CONFIGS)})].set(${JSON.stringify(c)}, () => import(${JSON.stringify(c)}));`).join('\n'),
      resolveDir: '/',
      loader: 'js',
    }));
  },
});

/**
 * The script in ASCII, so that it is read as one-byte text: a single other character anywhere makes V8 hold
 * all of it in two bytes a character, and decoding that costs more than the rest of reading the program.
 * esbuild already escapes every string, template, regular expression and name (its ASCII charset); what is
 * left is comment text, where an escape is as good as the character.
 */
const asciiOnly = (text) => text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);

/** Line → module index of the script: esbuild opens each module's code with a `// path` comment. */
function moduleLines(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ (\S.*\.[cm]?[jt]sx?)$/.exec(lines[i]);
    if (m) out.push([i + 1, path.resolve('/', m[1])]);
  }
  return out;
}

/** esbuild's failure as `file:line:column: message` lines. */
function compileError(error) {
  if (!Array.isArray(error?.errors)) return error;
  const where = (loc) => (loc ? `${path.resolve('/', loc.file)}:${loc.line}:${loc.column}: ` : '');
  return new Error(error.errors.map((e) => `${where(e.location)}${e.text}`).join('\n'));
}

async function compile(main, configs, dir) {
  const esbuild = await import('esbuild');
  const { metafile, outputFiles } = await esbuild
    .build({
      stdin: { contents: `import '${CONFIGS}'; export * from ${JSON.stringify(main)};`, resolveDir: '/', sourcefile: 'gcp-tasks:program-entry.js', loader: 'js' },
      absWorkingDir: '/',
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'cjs',
      target: TARGET,
      outfile: path.join(dir, 'program.cjs'),
      sourcemap: 'linked', // a file of its own, read only when source maps are on
      sourcesContent: false,
      logLevel: 'silent',
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      // A dynamic import in a script run from a code cache finds no loader in Node 20: they become requires.
      supported: { 'dynamic-import': false },
      plugins: [configsModule(configs), sourceLocation, packages],
    })
    .catch((error) => {
      throw compileError(error);
    });
  // Stamped after compiling: a file saved during the compile may be trusted stale once, until its next save.
  // This file is an input too: a change to how programs are made remakes them.
  const files = [...Object.keys(metafile.inputs).filter((input) => !/^[\w-]+:/.test(input)).map((input) => path.resolve('/', input)), __filename];
  const text = asciiOnly(outputFiles.find((o) => o.path.endsWith('.cjs')).text);
  // Named by content: a run still executing an older script keeps its file (and its lazily read source map).
  const name = `program-${sha256(text).slice(0, 16)}.cjs`;
  for (const out of outputFiles) {
    const target = path.join(dir, path.basename(out.path).replace('program.cjs', name));
    if (!fs.existsSync(target)) writeAtomic(target, out.path.endsWith('.cjs') ? text.replace(/sourceMappingURL=program\.cjs\.map/, `sourceMappingURL=${name}.map`) : out.text);
  }
  const record = { target: TARGET, main, configs, script: name, inputs: Object.fromEntries(files.map((f) => [f, stamp(f)])), modules: moduleLines(text) };
  writeAtomic(path.join(dir, 'program.json'), JSON.stringify(record));
  removeStale(dir, name);
  removeUnusedPrograms(dir);
  return withPaths(record, dir);
}

/** Scripts of older compiles of this program that nothing has run for a day. */
function removeStale(dir, current) {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      if (name !== 'program.json' && !name.startsWith(current) && Date.now() - fs.statSync(file).mtimeMs > STALE_MS) fs.rmSync(file, { force: true });
    } catch {
      // removed by another run meanwhile
    }
  }
}

function removeUnusedPrograms(current) {
  for (const name of fs.readdirSync(programsDir)) {
    const dir = path.join(programsDir, name);
    try {
      if (dir !== current && Date.now() - fs.statSync(path.join(dir, 'program.json')).mtimeMs > STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // being written or removed by another run
    }
  }
}

/**
 * The program of `main` (an absolute path) with `configs` as lazy modules, compiled again when any input
 * changed. Throws what esbuild reports for a source that does not compile, with its file and line.
 */
async function compileProgram(main, configs = []) {
  const sorted = [...new Set(configs)].sort();
  const dir = path.join(programsDir, sha256([main, ...sorted].join('\0')).slice(0, 32));
  return upToDate(dir) ?? (await compile(main, sorted, dir));
}

/** The source module of line `line` of the program's script (by its module index); other files are their own. */
function sourceOf(program, file, line) {
  if (file !== program.file) return file;
  const index = program.modules;
  let lo = 0;
  let hi = index.length - 1;
  if (hi < 0 || line < index[0][0]) return file;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (index[mid][0] <= line) lo = mid;
    else hi = mid - 1;
  }
  return index[lo][1];
}

/**
 * Runs a compiled program in this process. Its modules learn of it through one global (lib/engine/program.ts):
 * the configs compiled in, each loaded when first asked for (one left out was not there when the run started),
 * and where a line of the script comes from. The code cache is read if there is one, and written when this run
 * ends if there was none or V8 refused it (another node version). With `sourceMaps`, stack traces name the
 * TypeScript sources: node's own loader runs the script then (it reads the source map; it has no code cache).
 */
async function runProgram(program, { sourceMaps = false } = {}) {
  const configs = new Map();
  globalThis[Symbol.for(CONFIGS)] = configs;
  globalThis[Symbol.for('gcp-tasks.program')] = {
    config(file) {
      const load = configs.get(file);
      if (load) return load();
      return Promise.reject(new Error(`${path.basename(file)} appeared while the run was starting: run the command again.`));
    },
    sourceAt: (file, line) => sourceOf(program, file, line),
  };
  if (sourceMaps) {
    process.setSourceMapsEnabled(true);
    createRequire(program.file)(program.file);
    return;
  }
  let cachedData;
  try {
    cachedData = fs.readFileSync(program.cacheFile);
  } catch {
    // not written yet
  }
  // The script is ASCII (asciiOnly): read as one byte a character, with no decoding.
  const script = new vm.Script(Module.wrap(fs.readFileSync(program.file, 'latin1')), { filename: program.file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    // At exit the cache holds every function this run compiled, not only the script's top level.
    process.once('exit', () => {
      try {
        writeAtomic(program.cacheFile, script.createCachedData());
      } catch {
        // a read-only install runs without it
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(program.file), module, program.file, program.dir);
}

module.exports = { compileProgram, runProgram };
