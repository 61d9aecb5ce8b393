// Whether a RUN command generates a Prisma client, however it is written: `prisma generate` directly or
// through npx / pnpm exec / dlx, or a package script reached by `pnpm --filter <pkg> <script>`, `pnpm -C
// <dir> run <script>`, `npm run <script> -w <pkg>`, `yarn workspace <pkg> <script>` (followed through
// scripts that call scripts), anywhere in a `&&` / `||` / `;` chain.
import path from 'node:path/posix';
import type { PackageManifest, Workspace, WorkspacePackage } from './workspace.js';

const DIRECT = /\bprisma(@\S+)?\s+(?:--?\S+\s+)*generate\b/;
const PNPM_COMMANDS = new Set([
  'install', 'i', 'add', 'remove', 'rm', 'uninstall', 'update', 'up', 'exec', 'dlx', 'create', 'fetch', 'prune', 'store', 'link', 'unlink',
  'import', 'rebuild', 'list', 'ls', 'why', 'outdated', 'audit', 'publish', 'pack', 'deploy', 'config', 'env', 'setup', 'init', 'licenses', 'patch',
]);

export interface Generation {
  /** `--schema=` of a direct `prisma generate`, resolved against the directory the command runs in. */
  schema?: string;
}

/** The simple commands of a shell command line, with the directory each runs in (`cd x && …` followed). */
function simpleCommands(command: string, cwd: string): { words: string[]; cwd: string }[] {
  const out: { words: string[]; cwd: string }[] = [];
  let dir = cwd;
  for (const part of command.split(/&&|\|\||;|\||\(|\)|\n/)) {
    const words = part.trim().split(/\s+/).filter(Boolean).map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
    while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) words.shift();
    if (!words.length) continue;
    if (words[0] === 'cd' && words[1]) dir = path.resolve(dir, words[1]);
    out.push({ words, cwd: dir });
  }
  return out;
}

/** The workspace packages a pnpm `--filter` selects (`@scope/x`, `@scope/x...`, `./dir`, `{dir}`, globs). */
function filtered(ws: Workspace, filter: string): WorkspacePackage[] {
  const f = filter.replace(/^\.\.\./, '').replace(/\.\.\.$/, '').replace(/^\^/, '').replace(/^\{(.*)\}$/, '$1');
  const all = [...ws.packages.values()];
  if (f.startsWith('.') || f.includes('/') && !f.startsWith('@')) {
    const dir = path.normalize(f).replace(/^\.\//, '').replace(/\/$/, '');
    return all.filter((p) => p.dir === dir);
  }
  const re = new RegExp(`^${f.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return all.filter((p) => re.test(p.name));
}

/** The package scripts one simple command runs: [manifest scripts, script name] pairs. */
function scriptCalls(ws: Workspace, words: string[], current: PackageManifest | undefined, root: PackageManifest | undefined): { scripts: Record<string, string>; name: string }[] {
  const [tool, ...rest] = words;
  const scriptsOf = (m: PackageManifest | undefined) => m?.scripts ?? {};
  if (tool === 'pnpm') {
    const targets: PackageManifest[] = [];
    const args: string[] = [];
    let recursive = false;
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i]!;
      const value = (flag: string) => (w.startsWith(`${flag}=`) ? w.slice(flag.length + 1) : w === flag ? rest[++i] : undefined);
      const filter = value('--filter') ?? value('-F');
      const dir = value('-C') ?? value('--dir');
      if (filter !== undefined) targets.push(...filtered(ws, filter).map((p) => p.manifest));
      else if (dir !== undefined) targets.push(...filtered(ws, `./${dir}`).map((p) => p.manifest));
      else if (w === '-r' || w === '--recursive') recursive = true;
      else if (w === '-w' || w === '--workspace-root') targets.push(root ?? {});
      else if (!w.startsWith('-')) args.push(w);
    }
    const name = args[0] === 'run' || args[0] === 'run-script' ? args[1] : args[0] && !PNPM_COMMANDS.has(args[0]) ? args[0] : undefined;
    if (!name) return [];
    const where = targets.length ? targets : recursive ? [...ws.packages.values()].map((p) => p.manifest) : [current ?? root ?? {}];
    return where.map((m) => ({ scripts: scriptsOf(m), name }));
  }
  if (tool === 'npm' && (rest[0] === 'run' || rest[0] === 'run-script') && rest[1]) {
    const workspace = rest.find((w, i) => rest[i - 1] === '-w' || rest[i - 1] === '--workspace') ?? rest.find((w) => w.startsWith('--workspace='))?.slice(12);
    const target = workspace ? filtered(ws, workspace)[0]?.manifest : current ?? root;
    return [{ scripts: scriptsOf(target), name: rest[1] }];
  }
  if (tool === 'yarn') {
    if (rest[0] === 'workspace' && rest[1]) {
      const name = rest[2] === 'run' ? rest[3] : rest[2];
      return name ? [{ scripts: scriptsOf(filtered(ws, rest[1])[0]?.manifest), name }] : [];
    }
    const name = rest[0] === 'run' ? rest[1] : rest[0];
    return name ? [{ scripts: scriptsOf(current ?? root), name }] : [];
  }
  return [];
}

/**
 * The Prisma generations a RUN command performs (empty when none). `cwd` is the directory it runs in
 * (the stage's WORKDIR); `rootManifest` the workspace root's package.json.
 */
export function prismaGenerations(command: string, cwd: string, ws: Workspace, rootManifest: PackageManifest | undefined): Generation[] {
  const found: Generation[] = [];
  const visit = (cmd: string, current: PackageManifest | undefined, depth: number, direct: boolean) => {
    for (const simple of simpleCommands(cmd, cwd)) {
      const line = simple.words.join(' ');
      if (DIRECT.test(line)) {
        const schema = /--schema(?:=|\s+)(\S+)/.exec(line)?.[1];
        found.push(direct && schema ? { schema: path.resolve(simple.cwd, schema) } : {});
        continue;
      }
      if (depth >= 5) continue;
      for (const call of scriptCalls(ws, simple.words, current, rootManifest)) {
        const body = call.scripts[call.name];
        const owner = [...ws.packages.values()].find((p) => p.manifest.scripts === call.scripts)?.manifest ?? rootManifest;
        if (typeof body === 'string') visit(body, owner, depth + 1, false);
      }
    }
  };
  visit(command, undefined, 0, true);
  return found;
}
