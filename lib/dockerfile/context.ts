// What a Dockerfile does with its build context, file by file: which context files `.dockerignore` keeps,
// which files each COPY/ADD source reaches, and where they land in each stage's filesystem (WORKDIR,
// `--from=` copies between stages, stages built FROM earlier ones). Files a RUN creates are unknown.
import path from 'node:path/posix';
import ignore from 'ignore';
import { copySpec, isRemoteSource, stageNamed, type Dockerfile, type Instruction, type Stage } from './parse.js';

/** `./a//b/` → `a/b`; the context root is ''. */
export function contextPath(p: string): string {
  const normal = path.normalize(`/${p.replaceAll('\\', '/')}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return normal === '.' ? '' : normal;
}

/**
 * A .dockerignore as a filter over context-relative paths. Docker's patterns are relative to the context
 * root (a bare `node_modules` is the root one only), so each is anchored before the gitignore library reads it.
 */
export function dockerignoreFilter(text: string | undefined): (file: string) => boolean {
  if (!text) return () => true;
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const pattern = contextPath(negated ? l.slice(1) : l);
      if (!pattern) return '';
      return `${negated ? '!' : ''}${pattern.startsWith('**') ? '' : '/'}${pattern}`;
    })
    .filter(Boolean);
  const ig = ignore().add(lines);
  return (file) => !ig.ignores(file);
}

/** The .dockerignore Docker reads for a Dockerfile: `<Dockerfile>.dockerignore` next to it, else the context root's. */
export function dockerignoreCandidates(dockerfileInContext: string): string[] {
  return [`${contextPath(dockerfileInContext)}.dockerignore`, '.dockerignore'];
}

/** Matches Go's filepath.Match (`*`, `?`, `[…]`) per path segment; BuildKit also takes `**`. */
function sourceRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasGlob = (p: string) => /[*?[]/.test(p);

/**
 * The files one COPY source reaches among `files` (paths relative to the same root), each with the path it
 * gets under the destination: a file keeps its base name, a directory's files keep their path below it.
 */
export function sourceMatches(source: string, files: Iterable<string>): { file: string; rel: string }[] {
  const src = contextPath(source);
  const out: { file: string; rel: string }[] = [];
  if (!hasGlob(src)) {
    for (const file of files) {
      if (file === src) out.push({ file, rel: path.basename(file) });
      else if (src === '' || file.startsWith(`${src}/`)) out.push({ file, rel: src === '' ? file : file.slice(src.length + 1) });
    }
    return out;
  }
  const re = sourceRegExp(src);
  const depth = src.split('/').length;
  for (const file of files) {
    const parts = file.split('/');
    if (parts.length < depth) continue;
    const head = parts.slice(0, depth).join('/');
    if (!re.test(head)) continue;
    // A matched file keeps its name; a matched directory's contents are copied into the destination.
    out.push({ file, rel: parts.length === depth ? path.basename(file) : parts.slice(depth).join('/') });
  }
  return out;
}

/** A file in a stage's filesystem: the context file it came from and the instruction that put it there. */
export interface ImageFile {
  context: string;
  line: number;
}

export interface StageState {
  stage: Stage;
  /** Absolute image path → origin. */
  files: Map<string, ImageFile>;
  workdir: string;
}

export interface CopyStep {
  stage: Stage;
  ins: Instruction;
  /** Context paths each source reached (empty: the source matches nothing). Absent for `--from` and remote sources. */
  reached: { source: string; files: string[] }[];
}

export interface Simulation {
  /** Each stage's filesystem after all its instructions. */
  stages: Map<Stage, StageState>;
  /** Context copies, in file order. */
  copies: CopyStep[];
}

/**
 * Runs the file's COPY/ADD/WORKDIR instructions over `context` (the files the build sees, after
 * .dockerignore). `onInstruction` sees every instruction with its stage's state at that moment.
 */
export function simulate(file: Dockerfile, context: readonly string[], onInstruction?: (state: StageState, ins: Instruction) => void): Simulation {
  const stages = new Map<Stage, StageState>();
  const copies: CopyStep[] = [];
  for (const stage of file.stages) {
    const parent = stageNamed(file, stage.base);
    const inherited = parent && parent.index < stage.index ? stages.get(parent) : undefined;
    const state: StageState = { stage, files: new Map(inherited?.files ?? []), workdir: inherited?.workdir ?? '/' };
    for (const ins of stage.instructions) {
      onInstruction?.(state, ins);
      if (ins.keyword === 'WORKDIR') state.workdir = path.resolve(state.workdir, ins.args.replace(/^["']|["']$/g, ''));
      const spec = copySpec(ins);
      if (!spec) continue;
      const dest = path.resolve(state.workdir, spec.dest);
      // A destination ending in `/`, or several sources, is a directory; so is any destination of a directory copy.
      const intoDir = spec.dest.endsWith('/') || spec.sources.length > 1;
      const put = (imagePath: string, origin: ImageFile) => state.files.set(imagePath, origin);
      if (spec.from !== undefined) {
        const from = stageNamed(file, spec.from);
        const fromState = from && from.index < stage.index ? stages.get(from) : undefined;
        if (!fromState) continue; // an external image: its files are unknown
        const inStage = [...fromState.files.keys()].map((p) => p.slice(1));
        for (const source of spec.sources) {
          for (const m of sourceMatches(source, inStage)) {
            const single = contextPath(source) === m.file && !hasGlob(source);
            put(single && !intoDir ? dest : path.join(dest, m.rel), fromState.files.get(`/${m.file}`)!);
          }
        }
        continue;
      }
      const step: CopyStep = { stage, ins, reached: [] };
      for (const source of spec.sources) {
        if (isRemoteSource(source)) continue;
        const matches = sourceMatches(source, context);
        step.reached.push({ source, files: matches.map((m) => m.file) });
        for (const m of matches) {
          const single = contextPath(source) === m.file && !hasGlob(source);
          const target = spec.parents ? path.join(dest, m.file) : single && !intoDir ? dest : path.join(dest, m.rel);
          put(target, { context: m.file, line: ins.line });
        }
      }
      copies.push(step);
    }
    stages.set(stage, state);
  }
  return { stages, copies };
}
