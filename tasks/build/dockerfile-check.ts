// Checks a service's Dockerfile before anything is uploaded (properties 11–13): it exists and is
// multi-stage, it copies every workspace package the service depends on (transitively, read from the
// workspace's package.json files), and it generates the Prisma client in the build and the production
// stage when the service depends on the database package. Every problem names the line to fix.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { ancestry, copyPaths, parseDockerfile, runCommand, stageNamed, type Dockerfile, type Stage } from './dockerfile.js';
import { dependencyClosure, globToRegExp, normalizeDir, packageAt, type ClosureEntry, type Workspace, type WorkspacePackage } from './workspace.js';

export interface PreflightService {
  key: string;
  dockerfile: string;
  packageDir: string;
}

export interface Problem {
  /** 1-based Dockerfile line to fix (absent when the file itself is missing). */
  line?: number;
  message: string;
}

export interface PreflightResult {
  problems: Problem[];
  /** The service's own package and its transitive workspace dependencies (when the package was found). */
  packages: WorkspacePackage[];
  /** Build-context paths the Dockerfile copies (COPY/ADD sources). */
  copySources: string[];
}

export function preflight(appRoot: string, service: PreflightService, ws: Workspace): PreflightResult {
  const problems: Problem[] = [];
  const pkg = packageAt(ws, service.packageDir);
  const closure = pkg ? dependencyClosure(ws, pkg) : [];
  const packages = pkg ? [pkg, ...closure.map((c) => c.pkg)] : [];
  if (!pkg) {
    problems.push({
      message: `${service.packageDir} is not a workspace package of the app (no package.json there, or not matched by pnpm-workspace.yaml): fix \`packageDir\` of ${service.key} in tasks.config.ts`,
    });
  }
  const file = path.join(appRoot, service.dockerfile);
  if (!existsSync(file)) {
    problems.push({
      message: `${service.dockerfile} does not exist: create it (a build stage and a production stage) or fix \`dockerfile\` of ${service.key} in tasks.config.ts`,
    });
    return { problems, packages, copySources: [] };
  }
  const dockerfile = parseDockerfile(readFileSync(file, 'utf8'));
  const copySources = dockerfile.stages.flatMap((s) => s.instructions.flatMap((i) => copyPaths(i)?.sources ?? [])).map(normalizeDir);

  if (dockerfile.stages.length < 2) {
    problems.push({
      line: dockerfile.stages[0]?.line ?? 1,
      message: `only ${dockerfile.stages.length} stage (FROM): use a multi-stage build, a build stage that installs and builds, then \`FROM … AS production\` with only what runs`,
    });
  }
  if (pkg) {
    problems.push(...missingCopies(dockerfile, pkg, closure, copySources));
    const database = packages.find((p) => isDatabasePackage(p, appRoot));
    if (database && dockerfile.stages.length >= 2) problems.push(...missingPrismaGenerate(dockerfile, database, ws, pkg));
  }
  return { problems, packages, copySources };
}

/** One readable error listing every problem, each with its Dockerfile line. */
export function preflightError(service: PreflightService, problems: Problem[]): UserError {
  const lines = problems.map((p) => `  ${p.line ? `${service.dockerfile}:${p.line}: ` : ''}${p.message}`);
  return new UserError(
    `${service.dockerfile} cannot build ${service.key} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    { hint: 'Nothing was uploaded. Fix the Dockerfile, then run the task again.' },
  );
}

/** Whether a COPY source (a path or glob in the build context) brings `dir` into the image as a whole. */
export function copiesDir(source: string, dir: string): boolean {
  if (source === '.' || source === '*' || source === dir || dir.startsWith(source + '/')) return true;
  if (!/[*?[]/.test(source)) return false;
  const re = globToRegExp(source);
  const parts = dir.split('/');
  return parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
}

function missingCopies(dockerfile: Dockerfile, pkg: WorkspacePackage, closure: ClosureEntry[], sources: string[]): Problem[] {
  const needed: ClosureEntry[] = [{ pkg, via: [pkg.name] }, ...closure];
  const missing = needed.filter((entry) => !sources.some((s) => copiesDir(s, entry.pkg.dir)));
  if (!missing.length) return [];
  const line = insertionLine(dockerfile, pkg.dir);
  return missing.map((entry) => ({
    line,
    message:
      entry.pkg === pkg
        ? `the service's own package ${pkg.dir} is never copied into the image: add \`COPY ${pkg.dir} ./${pkg.dir}\``
        : `${entry.pkg.name} is never copied into the image, but ${pkg.name} needs it (${entry.via.join(' → ')}): add \`COPY ${entry.pkg.dir} ./${entry.pkg.dir}\``,
  }));
}

/** Where a missing COPY belongs: after the last context COPY of the stage that copies the service, else of the first stage. */
function insertionLine(dockerfile: Dockerfile, serviceDir: string): number {
  const copying = (s: Stage) => s.instructions.filter((i) => copyPaths(i));
  const stage =
    dockerfile.stages.find((s) => copying(s).some((i) => copyPaths(i)!.sources.some((src) => copiesDir(normalizeDir(src), serviceDir)))) ??
    dockerfile.stages[0];
  if (!stage) return 1;
  return copying(stage).at(-1)?.line ?? stage.line;
}

export function isDatabasePackage(pkg: WorkspacePackage, root?: string): boolean {
  const deps = ['dependencies', 'devDependencies'].flatMap((f) => Object.keys(pkg.manifest[f] ?? {}));
  return deps.includes('@prisma/client') || deps.includes('prisma') || pkg.manifest.prisma !== undefined || (root !== undefined && existsSync(path.join(root, pkg.dir, 'prisma', 'schema.prisma')));
}

function missingPrismaGenerate(dockerfile: Dockerfile, database: WorkspacePackage, ws: Workspace, pkg: WorkspacePackage): Problem[] {
  const schema = `${database.dir}/${database.manifest.prisma?.schema ?? 'prisma/schema.prisma'}`;
  const fix = `add \`RUN npx prisma generate --schema=${schema}\``;
  const generates = generateMatcher(ws, database);
  const stageGenerates = (stage: Stage) => ancestry(dockerfile, stage).some((s) => s.instructions.some((i) => i.keyword === 'RUN' && generates(runCommand(i))));
  const production = dockerfile.stages.at(-1)!;
  const buildStages = buildStagesOf(dockerfile, production);
  const problems: Problem[] = [];
  const why = `${pkg.name} depends on ${database.name} (Prisma)`;
  if (!buildStages.some(stageGenerates)) {
    const stage = buildStages[0] ?? dockerfile.stages[0];
    problems.push({
      line: stage.line,
      message: `the Prisma client is not generated in the build stage${stage.name ? ` "${stage.name}"` : ''}, and ${why}: ${fix} after copying ${database.dir}`,
    });
  }
  if (!stageGenerates(production)) {
    problems.push({
      line: production.line,
      message: `the Prisma client is not generated in the production stage${production.name ? ` "${production.name}"` : ''} (its engine must match the runtime image), and ${why}: ${fix} in that stage`,
    });
  }
  return problems;
}

/** The stages the final stage copies its build from (`COPY --from=`), else every earlier stage it does not derive from. */
function buildStagesOf(dockerfile: Dockerfile, production: Stage): Stage[] {
  const lineage = ancestry(dockerfile, production);
  const referenced = lineage
    .flatMap((s) => s.instructions)
    .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && i.flags.from)
    .map((i) => stageNamed(dockerfile, i.flags.from))
    .filter((s): s is Stage => s !== undefined && !lineage.includes(s));
  if (referenced.length) return [...new Set(referenced)];
  return dockerfile.stages.filter((s) => !lineage.includes(s));
}

/**
 * Whether a RUN command generates the Prisma client: `prisma generate` in any form (npx, pnpm exec,
 * a pinned `prisma@x`), or a package script of the app root or the database package that does so.
 */
function generateMatcher(ws: Workspace, database: WorkspacePackage): (command: string) => boolean {
  const direct = /\bprisma(@\S+)?\s+(?:--?\S+\s+)*generate\b/;
  const rootManifest = readRootManifest(ws.root);
  const scriptsOf = (manifest: Record<string, any> | undefined) =>
    Object.entries<string>(manifest?.scripts ?? {}).filter(([, cmd]) => direct.test(cmd)).map(([name]) => name);
  const rootScripts = scriptsOf(rootManifest);
  const dbScripts = scriptsOf(database.manifest);
  const word = (name: string) => new RegExp(`(^|\\s)${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
  return (command) =>
    direct.test(command) ||
    rootScripts.some((s) => word(s).test(command)) ||
    ((command.includes(database.name) || command.includes(database.dir)) && dbScripts.some((s) => word(s).test(command)));
}

function readRootManifest(root: string): Record<string, any> | undefined {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}
