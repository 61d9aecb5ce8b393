// The app monorepo's workspace graph, read from its files: which packages exist (pnpm-workspace.yaml, or
// package.json "workspaces"), and which workspace packages each one depends on, transitively.
// Synchronous on purpose: the build tasks' fingerprint inputs (a sync function) are computed from it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import YAML from 'yaml';
import { z } from 'zod';
import { UserError } from '../../lib/engine/errors.js';

export interface WorkspacePackage {
  name: string;
  /** Directory relative to the app root, `/`-separated (`packages/logger`). */
  dir: string;
  /** Names of the workspace packages it depends on directly (any dependency field). */
  deps: string[];
  manifest: PackageManifest;
}

export interface Workspace {
  root: string;
  /** By package name. */
  packages: Map<string, WorkspacePackage>;
}

/** A dependency of a package, with the chain through which it is needed (`[service, …, dep]`). */
export interface ClosureEntry {
  pkg: WorkspacePackage;
  via: string[];
}

const dependencyFields = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

/** A field of the wrong type counts as absent: the checks judge the Dockerfile, not the manifest's style. */
const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const stringMap = lenient(z.record(z.string(), z.string()));

/** The package.json fields the build checks read; every other field passes through untouched. */
export const packageManifest = z.looseObject({
  name: lenient(z.string()),
  main: lenient(z.string()),
  module: lenient(z.string()),
  scripts: stringMap,
  prisma: lenient(z.looseObject({ schema: lenient(z.string()) })),
  workspaces: lenient(z.union([z.array(z.string()), z.looseObject({ packages: lenient(z.array(z.string())) })])),
  dependencies: stringMap,
  devDependencies: stringMap,
  optionalDependencies: stringMap,
  peerDependencies: stringMap,
});
export type PackageManifest = z.infer<typeof packageManifest>;

export function readWorkspace(root: string): Workspace {
  const packages = new Map<string, WorkspacePackage>();
  for (const dir of expandPatterns(root, workspacePatterns(root))) {
    const manifest = readManifest(root, dir);
    if (manifest && typeof manifest.name === 'string') packages.set(manifest.name, { name: manifest.name, dir, deps: [], manifest });
  }
  for (const pkg of packages.values()) {
    const names = dependencyFields.flatMap((field) => Object.keys(pkg.manifest[field] ?? {}));
    pkg.deps = [...new Set(names)].filter((name) => packages.has(name) && name !== pkg.name).sort();
  }
  return { root, packages };
}

/** The workspace package whose directory is `dir` (relative to the app root), if any. */
export function packageAt(ws: Workspace, dir: string): WorkspacePackage | undefined {
  const wanted = normalizeDir(dir);
  return [...ws.packages.values()].find((p) => p.dir === wanted);
}

/** Every workspace package `pkg` depends on, transitively (not `pkg` itself), nearest first, each with its chain. */
export function dependencyClosure(ws: Workspace, pkg: WorkspacePackage): ClosureEntry[] {
  const seen = new Map<string, ClosureEntry>([[pkg.name, { pkg, via: [pkg.name] }]]);
  const queue = [pkg];
  while (queue.length) {
    const current = queue.shift()!;
    for (const name of current.deps) {
      if (seen.has(name)) continue;
      const dep = ws.packages.get(name)!;
      seen.set(name, { pkg: dep, via: [...seen.get(current.name)!.via, name] });
      queue.push(dep);
    }
  }
  seen.delete(pkg.name);
  return [...seen.values()];
}

/** `apps/x/`, `./apps/x` → `apps/x`. */
export function normalizeDir(dir: string): string {
  return path.posix.normalize(dir.replaceAll('\\', '/')).replace(/^\.\//, '').replace(/\/+$/, '') || '.';
}

/** The package.json in `dir` of the app, or undefined when there is none. */
export function readManifest(root: string, dir: string): PackageManifest | undefined {
  const file = path.join(root, dir, 'package.json');
  if (!existsSync(file)) return undefined;
  const rel = path.join(dir, 'package.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UserError(`${rel} in the app is not valid JSON: ${(error as Error).message}`, { hint: `Fix the file (app root: ${root}).` });
  }
  const manifest = packageManifest.safeParse(json);
  if (!manifest.success) throw new UserError(`${rel} in the app is not a JSON object.`, { hint: `Fix the file (app root: ${root}).` });
  return manifest.data;
}

/** The `packages:` globs of pnpm-workspace.yaml, else package.json `workspaces` (npm, yarn). */
function workspacePatterns(root: string): string[] {
  const yamlFile = path.join(root, 'pnpm-workspace.yaml');
  if (existsSync(yamlFile)) return parsePackagesList(readFileSync(yamlFile, 'utf8'));
  const manifest = readManifest(root, '.');
  const workspaces = manifest?.workspaces;
  return Array.isArray(workspaces) ? workspaces : (workspaces?.packages ?? []);
}

/** The `packages:` list of a pnpm-workspace.yaml (any YAML form: block or flow lists, quotes, comments). */
export function parsePackagesList(text: string, file = 'pnpm-workspace.yaml'): string[] {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (error) {
    throw new UserError(`${file} in the app is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { hint: 'Fix the file.' });
  }
  const packages = (doc as { packages?: unknown } | null)?.packages;
  return Array.isArray(packages) ? packages.filter((p): p is string => typeof p === 'string') : [];
}

/** Directories matching workspace globs (`apps/*`, `packages/**`, `tools/cli`, `!**\/test`). */
function expandPatterns(root: string, patterns: string[]): string[] {
  const include = patterns.filter((p) => !p.startsWith('!')).map(normalizeDir);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => picomatch(normalizeDir(p.slice(1))));
  const dirs = new Set<string>();
  for (const pattern of include) {
    for (const dir of matchDirs(root, pattern.split('/'), '')) if (!exclude.some((excluded) => excluded(dir))) dirs.add(dir);
  }
  return [...dirs].sort();
}

function matchDirs(root: string, segments: string[], base: string): string[] {
  if (segments.length === 0) return [base || '.'];
  const [head, ...rest] = segments;
  const children = () =>
    readdirSync(path.join(root, base || '.'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'node_modules' && !d.name.startsWith('.'))
      .map((d) => (base ? `${base}/${d.name}` : d.name));
  if (!existsSync(path.join(root, base || '.'))) return [];
  if (head === '**') return [...matchDirs(root, rest, base), ...children().flatMap((c) => matchDirs(root, segments, c))];
  if (!picomatch.scan(head).isGlob) return matchDirs(root, rest, base ? `${base}/${head}` : head);
  const matches = picomatch(head);
  return children().filter((c) => matches(path.posix.basename(c))).flatMap((c) => matchDirs(root, rest, c));
}
