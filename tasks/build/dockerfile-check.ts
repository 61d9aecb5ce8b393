// Checks a service's Dockerfile before anything is uploaded, by running its COPY/ADD/WORKDIR instructions
// over the build context (lib/dockerfile) and judging the result, whatever the copying style (whole
// folders or file by file for layer caching):
// - any service: the Dockerfile parses, every COPY source is in the context, no credential is re-included
//   by an ignore file;
// - a workspace package: a multi-stage build whose build stage holds every file the service needs (its own
//   and each transitive workspace dependency's manifest and sources, the root manifests and lockfile),
//   and, when it or a dependency has a Prisma schema, a Prisma client generated in the build stage and
//   present in the production stage.
// Every problem names the Dockerfile line to fix.
import path from 'node:path/posix';
import { UserError } from '../../lib/engine/errors.js';
import { contextPath, simulate, type StageState } from '../../lib/dockerfile/context.js';
import { ancestry, copySpec, runCommand, stageNamed, type Dockerfile, type Stage } from '../../lib/dockerfile/parse.js';
import { readBuildSource, type BuildLocation, type BuildSource } from './build-source.js';
import { prismaGenerations } from './prisma-generate.js';
import { dependencyClosure, normalizeDir, packageAt, readManifest, type ClosureEntry, type Workspace, type WorkspacePackage } from './workspace.js';

export interface PreflightService extends BuildLocation {
  /** The service's workspace package directory (relative to the app root); only for workspace packages. */
  packageDir?: string;
  /** false for a service that is not a Node workspace package (Python, Go): generic checks only. */
  workspacePackage: boolean;
}

export interface Problem {
  /** 1-based Dockerfile line to fix (absent when the problem is not in the Dockerfile). */
  line?: number;
  message: string;
}

export interface PreflightResult {
  problems: Problem[];
  source: BuildSource;
}

const LOCKFILES = ['pnpm-lock.yaml', 'package-lock.json', 'yarn.lock', 'bun.lockb'];

export function preflight(appRoot: string, service: PreflightService, ws?: Workspace, source: BuildSource = readBuildSource(appRoot, service)): PreflightResult {
  const problems: Problem[] = [];
  for (const r of source.reincluded) {
    problems.push({ message: `${r.file} looks like a credential or local clutter and is never uploaded, but ${r.ignoreFile} re-includes it (\`${r.pattern}\`): remove that line, or move the file out of the build context` });
  }
  const pkg = service.workspacePackage && ws ? packageAt(ws, service.packageDir ?? path.dirname(service.dockerfile)) : undefined;
  if (service.workspacePackage && ws && !pkg) {
    problems.push({
      message: `${service.packageDir} is not a workspace package of the app (no package.json there, or not matched by pnpm-workspace.yaml): fix \`packageDir\` of ${service.key} in tasks.config.ts, or set \`workspacePackage: false\` for a service that is not a Node package`,
    });
  }
  if (source.dockerfile.startsWith('../')) {
    problems.push({ message: `${service.dockerfile} is outside the build context ${service.context}: move it into the context or fix \`dockerfile\`/\`context\` of ${service.key} in tasks.config.ts` });
    return { problems, source };
  }
  if (!source.parsed && !source.syntaxError) {
    problems.push({ message: `${service.dockerfile} does not exist: create it (a build stage and a production stage) or fix \`dockerfile\` of ${service.key} in tasks.config.ts` });
    return { problems, source };
  }
  if (source.syntaxError) {
    problems.push({ line: source.syntaxError.line, message: source.syntaxError.message.replace(/^dockerfile parse error on line \d+: /, 'Docker cannot parse this line: ') });
    return { problems, source };
  }
  const dockerfile = source.parsed!;
  problems.push(...missingSources(source, dockerfile));
  if (pkg) problems.push(...workspaceProblems(appRoot, service, ws!, pkg, source, dockerfile));
  return { problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)), source };
}

/** One readable error listing every problem, each as `Dockerfile:LINE`. */
export function preflightError(service: PreflightService, problems: Problem[]): UserError {
  const lines = problems.map((p) => `  ${p.line ? `${service.dockerfile}:${p.line}: ` : ''}${p.message}`);
  return new UserError(`${service.dockerfile} cannot build ${service.key} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
    hint: 'Nothing was uploaded. Fix the Dockerfile, then run the task again.',
  });
}

/** COPY/ADD sources that reach nothing: Docker stops there ("not found"). */
function missingSources(source: BuildSource, dockerfile: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  for (const step of simulate(dockerfile, source.visible).copies) {
    for (const r of step.reached.filter((x) => x.files.length === 0 && contextPath(x.source) !== '')) {
      const rel = contextPath(r.source);
      const why = source.contextFiles.some((f) => f === rel || f.startsWith(`${rel}/`))
        ? `${source.dockerignore} leaves it out of the build context`
        : source.withheld.some((w) => w === rel || w === `${rel}/`)
          ? 'it looks like a credential or local clutter, which is never uploaded'
          : 'there is no such file or folder in the build context (or .gcloudignore leaves it out)';
      problems.push({ line: step.ins.line, message: `${step.ins.keyword} ${r.source}: ${why}; Docker fails with "not found"` });
    }
  }
  return problems;
}

function workspaceProblems(appRoot: string, service: PreflightService, ws: Workspace, pkg: WorkspacePackage, source: BuildSource, dockerfile: Dockerfile): Problem[] {
  const problems: Problem[] = [];
  if (dockerfile.stages.length < 2) {
    problems.push({
      line: dockerfile.stages[0]!.line,
      message: `only ${dockerfile.stages.length} stage (FROM): use a multi-stage build, a build stage that installs and builds, then \`FROM … AS production\` with only what runs`,
    });
  }
  // Paths below are relative to the app root; the build context may be a sub-folder of it.
  const contextPrefix = contextPath(path.relative('/', path.resolve('/', normalizeDir(service.context))));
  const toContext = (rel: string) => (contextPrefix ? (rel.startsWith(`${contextPrefix}/`) ? rel.slice(contextPrefix.length + 1) : undefined) : rel);
  const closure: ClosureEntry[] = [{ pkg, via: [pkg.name] }, ...dependencyClosure(ws, pkg)];

  const generations: { stage: Stage; line: number; schemaPresent: boolean; wrongSchema?: string }[] = [];
  const schemas = closure.flatMap((c) => prismaSchemaOf(c.pkg, source, toContext).map((schema) => ({ entry: c, schema })));
  const rootManifest = readManifest(appRoot, '.');
  const sim = simulate(dockerfile, source.visible, (state, ins) => {
    if (ins.keyword !== 'RUN' || !schemas.length) return;
    const gens = prismaGenerations(runCommand(ins), state.workdir, ws, rootManifest);
    if (!gens.length) return;
    const root = rootOf(state);
    const wrongSchema = gens.map((g) => g.schema).find((s) => s !== undefined && !state.files.has(s));
    // A generation pointed at a schema that is not there fails: it generates nothing.
    const schemaPresent = !wrongSchema && schemas.some((s) => state.files.get(path.join(root, s.schema))?.context === s.schema);
    generations.push({ stage: state.stage, line: ins.line, schemaPresent, wrongSchema });
  });

  const production = dockerfile.stages.at(-1)!;
  const build = buildStage(dockerfile, production, sim.stages, pkg);
  const state = sim.stages.get(build)!;
  const lineage = ancestry(dockerfile, build);
  const copiedAt = (match: (context: string) => boolean) =>
    Math.max(0, ...sim.copies.filter((c) => lineage.includes(c.stage) && c.reached.some((r) => r.files.some(match))).map((c) => c.ins.line)) || undefined;
  problems.push(...missingFiles(state, closure, source, toContext, build, copiedAt));

  for (const g of generations.filter((x) => x.wrongSchema)) {
    const existing = schemas[0] ? path.join(rootOf(sim.stages.get(g.stage)!), schemas[0].schema) : undefined;
    problems.push({ line: g.line, message: `prisma generate --schema names ${g.wrongSchema}, which is not in the image at this point${existing ? `: the schema is ${existing}` : ''}` });
  }
  if (schemas.length) problems.push(...prismaProblems(dockerfile, sim.stages, build, production, generations.filter((g) => !g.wrongSchema), schemas[0]!));
  return problems;
}

/** The schema file of a package with Prisma (in the context), if any. */
function prismaSchemaOf(pkg: WorkspacePackage, source: BuildSource, toContext: (rel: string) => string | undefined): string[] {
  const rel = toContext(`${pkg.dir}/${pkg.manifest.prisma?.schema ?? 'prisma/schema.prisma'}`.replace(/^\.\//, ''));
  return rel && source.contextFiles.includes(rel) ? [path.normalize(rel)] : [];
}

/** Where the workspace root lands in a stage: the folder of the copied root package.json, else the WORKDIR. */
function rootOf(state: StageState): string {
  for (const [imagePath, origin] of state.files) if (origin.context === 'package.json') return path.dirname(imagePath);
  return state.workdir;
}

/** The stage the image's build happens in: the one the production stage copies the service from. */
function buildStage(dockerfile: Dockerfile, production: Stage, states: Map<Stage, StageState>, pkg: WorkspacePackage): Stage {
  const lineage = ancestry(dockerfile, production);
  const referenced = lineage
    .flatMap((s) => s.instructions)
    .map((i) => copySpec(i)?.from)
    .map((from) => (from === undefined ? undefined : stageNamed(dockerfile, from)))
    .filter((s): s is Stage => s !== undefined && !lineage.includes(s));
  if (!referenced.length) return production;
  const hasService = (s: Stage) => [...states.get(s)!.files.values()].some((f) => f.context === `${pkg.dir}/package.json`);
  return [...referenced].reverse().find(hasService) ?? referenced.at(-1)!;
}

const stageLabel = (stage: Stage) => (stage.name ? `stage "${stage.name}"` : `stage ${stage.index + 1}`);

/** The files a package contributes to the build: its manifest and its sources. */
function neededOf(pkg: WorkspacePackage, files: string[]): { manifest: string; sources: string[]; sourceDir?: string } {
  const under = files.filter((f) => f.startsWith(`${pkg.dir}/`));
  const srcDir = `${pkg.dir}/src`;
  const entries = [pkg.manifest.main, pkg.manifest.module].filter((e): e is string => typeof e === 'string').map((e) => path.normalize(`${pkg.dir}/${e}`));
  let sources = under.filter((f) => f.startsWith(`${srcDir}/`) || entries.includes(f));
  if (!sources.length) sources = under.filter((f) => f !== `${pkg.dir}/package.json` && !/(^|\/)(README|CHANGELOG|LICENSE)[^/]*$|\.md$/i.test(f));
  return { manifest: `${pkg.dir}/package.json`, sources, sourceDir: under.some((f) => f.startsWith(`${srcDir}/`)) ? srcDir : undefined };
}

function missingFiles(
  state: StageState,
  closure: ClosureEntry[],
  source: BuildSource,
  toContext: (rel: string) => string | undefined,
  build: Stage,
  copiedAt: (match: (context: string) => boolean) => number | undefined,
): Problem[] {
  const root = rootOf(state);
  const present = (rel: string) => state.files.get(path.join(root, rel))?.context === rel;
  const dest = (rel: string) => (root === state.workdir ? `./${rel}` : path.join(root, rel));
  const contextCopies = [...state.files.values()].filter((f) => f.line > 0);
  const lastLine = (match: (context: string) => boolean) => Math.max(0, ...contextCopies.filter((f) => match(f.context)).map((f) => f.line)) || undefined;
  const fallback = lastLine(() => true) ?? build.line;
  const problems: Problem[] = [];
  const where = stageLabel(build);
  const service = closure[0]!.pkg;
  const hidden = (rel: string) => (source.contextFiles.includes(rel) && !source.visible.includes(rel) ? ` (${source.dockerignore} leaves it out)` : '');

  const rootFiles = ['package.json', LOCKFILES.find((f) => source.contextFiles.includes(f)), 'pnpm-workspace.yaml'].filter(
    (f): f is string => !!f && source.contextFiles.includes(f),
  );
  const missingRoot = rootFiles.filter((f) => !present(f));
  if (missingRoot.length) {
    problems.push({
      line: lastLine((c) => !c.includes('/')) ?? contextCopies.map((f) => f.line).sort((a, b) => a - b)[0] ?? build.line,
      message: `the workspace root's ${missingRoot.join(', ')} ${missingRoot.length === 1 ? 'is' : 'are'} never copied into ${where} (the install needs them)${missingRoot.map(hidden).join('')}: add \`COPY ${rootFiles.join(' ')} ${root === state.workdir ? './' : `${root}/`}\``,
    });
  }

  for (const entry of closure) {
    const dir = toContext(entry.pkg.dir);
    if (dir === undefined) {
      problems.push({ message: `${entry.pkg.name} (${entry.pkg.dir}) is outside the build context ${source.contextDir}: widen \`context\` of the service in tasks.config.ts` });
      continue;
    }
    const pkg = { ...entry.pkg, dir };
    // What the build can see is needed; sources that .dockerignore hides entirely are needed all the same.
    const seen = neededOf(pkg, source.visible);
    const need = seen.sources.length ? seen : neededOf(pkg, source.contextFiles);
    const own = entry.pkg === service;
    const manifestMissing = !present(need.manifest);
    const sourcesMissing = need.sources.filter((f) => !present(f));
    if (!manifestMissing && !sourcesMissing.length) continue;
    const chain = `${entry.via.join(' → ')}`;
    const inPackage = (c: string) => c.startsWith(`${dir}/`);
    if (manifestMissing && sourcesMissing.length === need.sources.length) {
      problems.push({
        line: lastLine((c) => /\/package\.json$/.test(c) || /\/src\//.test(c)) ?? fallback,
        message: own
          ? `the service's own package ${dir} is never copied into the image${hidden(need.manifest)}: add \`COPY ${dir} ${dest(dir)}\``
          : `${entry.pkg.name} is never copied into the image, but ${service.name} needs it (${chain})${hidden(need.manifest)}: add \`COPY ${dir} ${dest(dir)}\``,
      });
      continue;
    }
    const who = own ? `the service's own package ${dir}` : `${entry.pkg.name} (${dir}, needed through ${chain})`;
    if (manifestMissing) {
      problems.push({
        line: copiedAt((c) => c === need.manifest) ?? lastLine((c) => /\/package\.json$/.test(c)) ?? fallback,
        message: `${need.manifest} of ${who} is never copied into ${where}${hidden(need.manifest)}: add \`COPY ${need.manifest} ${dest(dir)}/\``,
      });
    }
    if (sourcesMissing.length) {
      const whole = need.sourceDir && sourcesMissing.length === need.sources.filter((f) => f.startsWith(`${need.sourceDir}/`)).length && sourcesMissing.every((f) => f.startsWith(`${need.sourceDir}/`));
      const fix = whole ? `COPY ${need.sourceDir} ${dest(need.sourceDir!)}` : sourcesMissing.slice(0, 3).map((f) => `COPY ${f} ${dest(f)}`).join('`, `');
      const what = whole ? `its sources (${need.sourceDir})` : `${sourcesMissing.slice(0, 3).join(', ')}${sourcesMissing.length > 3 ? ` and ${sourcesMissing.length - 3} more` : ''}`;
      problems.push({
        // A COPY that took the files but put them elsewhere is the line to fix.
        line: copiedAt((c) => sourcesMissing.includes(c)) ?? lastLine((c) => inPackage(c) && !c.endsWith('/package.json')) ?? lastLine((c) => /\/src\//.test(c)) ?? lastLine(inPackage) ?? fallback,
        message: `${what} of ${who} ${whole || sourcesMissing.length > 1 ? 'are' : 'is'} never copied into ${where}${sourcesMissing.map(hidden).find(Boolean) ?? ''}: add \`${fix}\``,
      });
    }
  }
  return problems;
}

function prismaProblems(
  dockerfile: Dockerfile,
  states: Map<Stage, StageState>,
  build: Stage,
  production: Stage,
  generations: { stage: Stage; line: number; schemaPresent: boolean }[],
  prisma: { entry: ClosureEntry; schema: string },
): Problem[] {
  const problems: Problem[] = [];
  const { entry } = prisma;
  const why = entry.via.length === 1 ? `${entry.pkg.name} has its own Prisma schema (${prisma.schema})` : `${entry.via[0]} depends on ${entry.pkg.name} (${entry.via.join(' → ')}), which has a Prisma schema (${prisma.schema})`;
  const script = Object.entries<string>(entry.pkg.manifest.scripts ?? {}).find(([, body]) => /\bprisma\s+(?:--?\S+\s+)*generate\b/.test(body))?.[0];
  const fix = script ? `RUN pnpm --filter ${entry.pkg.name} ${script}` : `RUN npx prisma generate --schema=${prisma.schema}`;
  const generatedIn = (stage: Stage) => ancestry(dockerfile, stage).some((s) => generations.some((g) => g.stage === s && g.schemaPresent));
  const schemaLine = (stage: Stage) => {
    const state = states.get(stage)!;
    return state.files.get(path.join(rootOf(state), prisma.schema))?.line;
  };

  if (!generatedIn(build)) {
    const used = [...ancestry(dockerfile, build), ...ancestry(dockerfile, production)];
    const elsewhere = generations.find((g) => !g.schemaPresent ? ancestry(dockerfile, build).includes(g.stage) : !used.includes(g.stage));
    const at = schemaLine(build);
    if (elsewhere && !elsewhere.schemaPresent && ancestry(dockerfile, build).includes(elsewhere.stage)) {
      problems.push({ line: elsewhere.line, message: `the Prisma client is generated before the schema ${prisma.schema} is in the image${at ? ` (copied at line ${at})` : ''}, and ${why}: move this RUN after that COPY` });
    } else if (elsewhere) {
      problems.push({
        line: elsewhere.line,
        message: `the Prisma client is generated in ${stageLabel(elsewhere.stage)}, which the image is not built from; the build ${stageLabel(build)} never generates it, and ${why}: move this RUN into ${stageLabel(build)}${at ? ` after line ${at}` : ''}`,
      });
    } else {
      problems.push({
        line: at ?? build.line,
        message: `the Prisma client is not generated in the build ${stageLabel(build)}, and ${why}: add \`${fix}\`${at ? ` after this line` : ` after copying ${prisma.schema}`}`,
      });
    }
  }
  // When the build stage lacks the client and production takes it from there, fixing the build stage fixes both.
  const carried = (s: Stage) => generatedIn(s) || (s === build && problems.length > 0);
  if (production !== build && !generatedIn(production) && !carriesClient(dockerfile, states, production, carried)) {
    problems.push({
      line: production.line,
      message: `the Prisma client is not generated in the production ${stageLabel(production)}, nor copied into it with node_modules from a stage that generated it, and ${why}: add \`${fix}\` in that stage, or copy node_modules from ${stageLabel(build)}`,
    });
  }
  return problems;
}

/** The production stage copies node_modules (or the whole workspace root) from a stage that generated the client. */
function carriesClient(dockerfile: Dockerfile, states: Map<Stage, StageState>, production: Stage, generatedIn: (s: Stage) => boolean): boolean {
  return ancestry(dockerfile, production).some((stage) =>
    stage.instructions.some((ins) => {
      const spec = copySpec(ins);
      const from = spec?.from === undefined ? undefined : stageNamed(dockerfile, spec.from);
      if (!spec || !from || !generatedIn(from)) return false;
      const root = rootOf(states.get(from)!);
      return spec.sources.some((s) => {
        const src = path.resolve('/', s);
        return src.split('/').includes('node_modules') || root === src || root.startsWith(`${src === '/' ? '' : src}/`);
      });
    }),
  );
}
