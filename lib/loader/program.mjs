// The CLI and its config compiled ahead by esbuild into one program of plain ES modules, so `pnpm task` runs on
// node alone. Module hooks (register.mjs) answer every import from a separate thread, and even plain ES modules
// cost node a resolution, a read and a link each: loading the ~300 modules of the CLI, the config and their
// packages one by one took longer than everything a cached run does. A program bundles its entries with code
// splitting: what several entries import lives in a shared chunk, so the CLI and the config it loads later see
// one instance of every module they share (the secret registry among them), and what only a lazy import needs
// (the sandbox, the embedded PostgreSQL) stays in chunks of its own that load when used.
// Each program's record lists every input with its size and modification time; a start that finds them
// unchanged only stats the files, and a change recompiles. Plain JavaScript: it runs before anything can be
// transpiled.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const toolRoot = fileURLToPath(new URL('../../', import.meta.url));
const programsDir = path.join(toolRoot, 'node_modules', '.cache', 'gcp-tasks', 'programs');
// Bumped when the compiled output changes shape: older programs are not reused.
const FORMAT = 3;
// Compiled for the node that runs it (import attributes, for one, are kept only from 20.10 on).
const TARGET = `node${process.versions.node}`;
const TS = /\.[cm]?tsx?$/;
// Packages of many small modules that every run loads, bundled into the program: loading zod's ~95 modules,
// undici's ~100 or yaml's ~60 one by one takes several times as long as in one file.
const BUNDLED = ['zod', 'undici', 'yaml', 'listr2', 'ignore', 'picomatch', 'dotenv', 'p-limit', 'write-file-atomic'];
// Chunks a newer compile replaced are removed once nothing started before could still be loading them.
const STALE_MS = 24 * 60 * 60 * 1000;

/** The program the running process was loaded from, if any. */
let active;

/** Marks `program` as the one this process runs: configs and source lookups are answered from it. */
export function useProgram(program) {
  active = program;
}

/** The URL of `entry` in the running program, or undefined when it was not compiled into it. */
export function programUrl(entry) {
  const file = active?.entries[entry];
  return file && pathToFileURL(path.join(active.dir, file)).href;
}

/** True when the running process was loaded from a program. */
export const programActive = () => active !== undefined;

/**
 * The URL of `entry` (a config) in the running program. One left out did not compile when the run started:
 * compiling it again throws its error. (One that compiles now appeared since: the run cannot take it in.)
 */
export async function programEntryUrl(entry) {
  const url = programUrl(entry);
  if (url) return url;
  await compileProgram([...Object.keys(active.entries), entry]);
  throw new Error(`${path.basename(entry)} appeared or changed while the run was starting: run the command again.`);
}

/**
 * The source module of line `line` of `file`: for a chunk of the running program, the module esbuild placed
 * there (each module's code follows a comment naming it); any other file is its own source.
 */
export function sourceAt(file, line) {
  const chunk = active && file.startsWith(`${active.dir}${path.sep}`) ? active.modules[file.slice(active.dir.length + 1)] : undefined;
  if (!chunk) return file;
  let lo = 0;
  let hi = chunk.length - 1;
  if (hi < 0 || line < chunk[0][0]) return file;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (chunk[mid][0] <= line) lo = mid;
    else hi = mid - 1;
  }
  return chunk[lo][1];
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function stamp(file) {
  const st = fs.statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

/** The recorded program when every input and output is still there unchanged, else undefined. */
function upToDate(dir) {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'program.json'), 'utf8'));
    if (record.format !== FORMAT || record.target !== TARGET) return undefined;
    const same = Object.entries(record.inputs).every(([file, was]) => stamp(file) === was) && Object.keys(record.modules).every((out) => fs.existsSync(path.join(dir, out)));
    if (!same) return undefined;
    touch(path.join(dir, 'program.json'));
    return { ...record, dir };
  } catch {
    return undefined;
  }
}

function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file); // a start-up running meanwhile reads the old file or the new one, never half
}

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

/**
 * Which packages come into the program: those of BUNDLED that the tool's own modules import, with everything
 * they import in turn. Any other package is loaded by node from where it is installed, as without compiling:
 * the tool's zx (whose CommonJS instance the task context shares), packages that find files of their own,
 * and every package a config outside the tool imports.
 */
const packages = {
  name: 'packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.pluginData === 'plain' || args.path.startsWith('node:') || args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      return args.importer.startsWith(toolRoot) && BUNDLED.includes(packageName(args.path)) ? undefined : { path: args.path, external: true };
    });
  },
};

/** This loader stays one module the launcher and the program share: the program it runs is its state. */
const sharedLoader = {
  name: 'shared-loader',
  setup(build) {
    const self = fileURLToPath(import.meta.url);
    build.onResolve({ filter: /program\.mjs$/ }, (args) => {
      const file = path.resolve(args.resolveDir, args.path);
      return file === self ? { path: file, external: true } : undefined;
    });
  },
};

/** Whether a resolved package file is CommonJS (node's rule: by extension, else the nearest package.json). */
function isCommonJs(file) {
  if (/\.cjs$/.test(file)) return true;
  if (!/\.js$/.test(file)) return false;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')).type !== 'module';
  }
  return true;
}

/**
 * A CommonJS package imported by the project's TypeScript keeps node's named exports: esbuild gives a dynamic
 * import of one only `default`. Such an import goes through a module that names every export the package has.
 */
const commonJsNames = {
  name: 'commonjs-names',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'plain' || !TS.test(args.importer) || args.path.startsWith('node:')) return undefined;
      const real = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'plain' });
      if (real.errors.length || real.external || !isCommonJs(real.path)) return undefined;
      return { path: real.path, namespace: 'commonjs-names', pluginData: { specifier: args.path, resolveDir: args.resolveDir } };
    });
    build.onLoad({ filter: /.*/, namespace: 'commonjs-names' }, (args) => {
      const { specifier, resolveDir } = args.pluginData;
      const names = Object.keys(createRequire(args.path)(args.path)).filter((key) => /^[A-Za-z_$][\w$]*$/.test(key) && key !== 'default');
      return { contents: `import m from ${JSON.stringify(args.path)}; export default m; export const { ${names.join(', ')} } = m;`, resolveDir, loader: 'js' };
    });
  },
};

/** Line → module index of a chunk: esbuild opens each module's code with a `// path` comment. */
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

async function compile(entries, dir) {
  const esbuild = await import('esbuild');
  const { metafile, outputFiles } = await esbuild.build({
    entryPoints: entries,
    absWorkingDir: '/',
    bundle: true,
    splitting: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: TARGET,
    outdir: dir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    sourcemap: 'linked', // a file of its own, read only when source maps are on
    sourcesContent: false,
    logLevel: 'silent',
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    // CommonJS packages in an ES module: their require() of node's builtins needs a require to call, and
    // their __filename and __dirname name the chunk they are in.
    banner: {
      js: [
        `import { createRequire as __createRequire } from 'node:module';`,
        `import { fileURLToPath as __fileURLToPath } from 'node:url';`,
        `const require = __createRequire(import.meta.url);`,
        `const __chunkFilename = __fileURLToPath(import.meta.url), __chunkDirname = __fileURLToPath(new URL('.', import.meta.url));`,
      ].join(' '),
    },
    define: { __filename: '__chunkFilename', __dirname: '__chunkDirname' },
    plugins: [sharedLoader, sourceLocation, packages, commonJsNames],
  }).catch((error) => {
    throw compileError(error);
  });
  // Stamped after compiling: a file saved during the compile may be trusted stale once, until its next save.
  // Files only: a module made up here (a namespace:path input) is stamped through the file it stands for.
  // This file is an input too: a change to how programs are made remakes them.
  const files = [...Object.keys(metafile.inputs).filter((input) => !/^[\w-]+:/.test(input)).map((input) => path.resolve('/', input)), fileURLToPath(import.meta.url)];
  const inputs = Object.fromEntries(files.map((file) => [file, stamp(file)]));
  const record = { format: FORMAT, target: TARGET, inputs, entries: {}, modules: {} };
  for (const [out, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint) record.entries[path.resolve('/', info.entryPoint)] = path.relative(dir, path.resolve('/', out));
  }
  for (const out of outputFiles) {
    const rel = path.relative(dir, out.path);
    // Content-hashed names: a file already there is this very file, possibly being loaded by a run right now.
    if (!fs.existsSync(out.path)) writeAtomic(out.path, out.text);
    if (rel.endsWith('.js')) record.modules[rel] = moduleLines(out.text);
  }
  writeAtomic(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  writeAtomic(path.join(dir, 'program.json'), JSON.stringify(record));
  removeStale(dir, record);
  removeUnusedPrograms(dir);
  return { ...record, dir };
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

/** Programs unused for a day (a config in a folder long gone, most often). */
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

/** Files of older compiles of this program that nothing has touched for a day. */
function removeStale(dir, record) {
  const keep = new Set(['program.json', 'package.json', ...Object.keys(record.modules).flatMap((f) => [f, `${f}.map`])]);
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      if (!keep.has(name) && Date.now() - fs.statSync(file).mtimeMs > STALE_MS) fs.rmSync(file, { force: true });
    } catch {
      // removed by another run meanwhile
    }
  }
}

/**
 * The program of `entries` (absolute paths), compiled again when any input changed: `entries` maps each entry to
 * its module's file, `modules` each chunk to its line index. Throws what esbuild reports for a source that does
 * not compile, with its file and line.
 */
export async function compileProgram(entries) {
  const sorted = [...new Set(entries)].sort();
  const dir = path.join(programsDir, sha256(`${sorted.join('\0')}`).slice(0, 32));
  return upToDate(dir) ?? (await compile(sorted, dir));
}
