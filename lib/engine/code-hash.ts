// The code fingerprint of a module: its own code plus every project module it imports, transitively, and the
// tool's version. The module graph comes from an esbuild metafile (packages stay external: a dependency
// changes with the lockfile, not here); each module is hashed after esbuild strips whitespace and comments,
// so reformatting reruns nothing. The graph is cached on disk and trusted while every file in it keeps its
// size and modification time, so a run that changed no code starts no compiler.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { fileURLToPath } from 'node:url';

const GRAPH_VERSION = 1;
const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/gcp-tasks/code-graph/', import.meta.url));
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

interface ModuleEntry {
  size: number;
  mtimeMs: number;
  /** Hash of the module's code without whitespace or comments. */
  hash: string;
  /** Project modules it imports (absolute paths). */
  imports: string[];
}

interface CodeGraph {
  version: typeof GRAPH_VERSION;
  tool: string;
  entries: string[];
  modules: Record<string, ModuleEntry>;
}

function toolVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name}@${pkg.version}`;
}

function unchanged(graph: CodeGraph): boolean {
  return Object.entries(graph.modules).every(([file, m]) => {
    try {
      const st = fs.statSync(file);
      return st.size === m.size && st.mtimeMs === m.mtimeMs;
    } catch {
      return false;
    }
  });
}

function readCached(file: string, entries: string[], tool: string): CodeGraph | undefined {
  try {
    const graph = JSON.parse(fs.readFileSync(file, 'utf8')) as CodeGraph;
    const same = graph.version === GRAPH_VERSION && graph.tool === tool && graph.entries.join('\0') === entries.join('\0');
    return same && unchanged(graph) ? graph : undefined;
  } catch {
    return undefined;
  }
}

const loaders = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' } as const;

async function buildGraph(entries: string[], tool: string): Promise<CodeGraph> {
  const esbuild = await import('esbuild');
  const { metafile } = await esbuild.build({
    entryPoints: entries,
    absWorkingDir: '/',
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outdir: '/out', // required with several entries; nothing is written
    logLevel: 'silent',
  });
  const modules: Record<string, ModuleEntry> = {};
  for (const [input, info] of Object.entries(metafile.inputs)) {
    const file = path.resolve('/', input);
    const stat = fs.statSync(file);
    const source = fs.readFileSync(file, 'utf8');
    const loader = loaders[path.extname(file) as keyof typeof loaders];
    // Data files (JSON and the like) count byte for byte.
    const code = loader ? (await esbuild.transform(source, { loader, minifyWhitespace: true, format: 'esm', sourcefile: file })).code : source;
    modules[file] = {
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      hash: sha256(code),
      imports: info.imports.filter((i) => !i.external).map((i) => path.resolve('/', i.path)),
    };
  }
  return { version: GRAPH_VERSION, tool, entries, modules };
}

function writeCached(file: string, graph: CodeGraph): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic.sync(file, JSON.stringify(graph), { fsync: false }); // a cache: rebuilt if lost
  } catch {
    // a read-only install recomputes the graph each run
  }
}

/**
 * Code fingerprints for the modules reachable from `entries`: file → hash of the tool's version and of the
 * module and its transitive project imports (named relative to `root`, so another checkout hashes the same).
 */
export async function codeFingerprints(entries: readonly string[], root: string): Promise<ReadonlyMap<string, string>> {
  const sorted = [...new Set(entries)].sort();
  const tool = toolVersion();
  const cacheFile = path.join(cacheDir, `${sha256(sorted.join('\0')).slice(0, 32)}.json`);
  let graph = readCached(cacheFile, sorted, tool);
  if (!graph) {
    graph = await buildGraph(sorted, tool);
    writeCached(cacheFile, graph);
  }
  const { modules } = graph;
  const out = new Map<string, string>();
  for (const start of Object.keys(modules)) {
    const seen = new Set<string>([start]);
    const queue = [start];
    while (queue.length) for (const next of modules[queue.pop()!]?.imports ?? []) if (!seen.has(next)) seen.add(next), queue.push(next);
    const parts = [...seen].map((f) => `${path.relative(root, f)}\0${modules[f]!.hash}`).sort();
    out.set(start, sha256(`${tool}\0${parts.join('\0')}`));
  }
  return out;
}
