// A Dockerfile parser that finds what `docker build` would reject before running anything: unknown
// instructions, a file without FROM, instructions missing their arguments, a --target that names no stage,
// and COPY/ADD sources that are not in the build context. Messages follow Docker's (BuildKit) wording.

export interface DockerInstruction {
  /** Upper-case instruction, e.g. `COPY`. */
  instruction: string;
  /** The rest of the (joined) line. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface DockerStage {
  /** The image or stage it starts from. */
  from: string;
  name?: string;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  stages: DockerStage[];
  instructions: DockerInstruction[];
}

export class DockerfileError extends Error {}

const INSTRUCTIONS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/** Parses a Dockerfile; throws DockerfileError with Docker's message when it is not valid. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let escape = '\\';
  // Parser directives (`# escape=`` ` ``, `# syntax=`) only at the very top.
  for (const line of lines) {
    const m = line.match(/^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }

  const instructions: DockerInstruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const start = i + 1;
    let joined = raw;
    // Line continuations (comment lines inside a continuation are skipped, as Docker does).
    while (joined.trimEnd().endsWith(escape) && i + 1 < lines.length) {
      joined = joined.trimEnd().slice(0, -escape.length).trimEnd();
      i++;
      while (i < lines.length && /^\s*#/.test(lines[i]!)) i++;
      if (i < lines.length) joined += ' ' + lines[i]!.trim();
    }
    const m = joined.trim().match(/^(\S+)\s*([\s\S]*)$/)!;
    const instruction = m[1]!.toUpperCase();
    if (!INSTRUCTIONS.has(instruction)) throw new DockerfileError(`dockerfile parse error on line ${start}: unknown instruction: ${m[1]}`);
    const args = m[2]!.trim();
    instructions.push({ instruction, args, line: start });
    // Heredocs (`RUN <<EOF … EOF`): skip their body.
    const heredoc = args.match(/<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/);
    if (heredoc && (instruction === 'RUN' || instruction === 'COPY' || instruction === 'ADD')) {
      const end = heredoc[1]!;
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== end) i++;
      i++;
    }
  }
  if (instructions.length === 0) throw new DockerfileError('the Dockerfile cannot be empty');

  const stages: DockerStage[] = [];
  for (const ins of instructions) {
    checkArguments(ins);
    if (ins.instruction === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const name = words.length === 3 && words[1]!.toUpperCase() === 'AS' ? words[2]! : undefined;
      if (words.length !== 1 && !name) throw new DockerfileError(`dockerfile parse error on line ${ins.line}: FROM requires either one or three arguments`);
      stages.push({ from: words[0]!, name: name?.toLowerCase(), instructions: [] });
    } else if (stages.length === 0) {
      if (ins.instruction !== 'ARG') throw new DockerfileError(`dockerfile parse error on line ${ins.line}: no build stage in current context`);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new DockerfileError('dockerfile parse error: no build stage in current context (the Dockerfile has no FROM)');
  return { stages, instructions };
}

function checkArguments(ins: DockerInstruction): void {
  const fail = (what: string) => new DockerfileError(`dockerfile parse error on line ${ins.line}: ${what}`);
  const needsArgs = !['HEALTHCHECK'].includes(ins.instruction);
  if (needsArgs && ins.args === '') throw fail(`${ins.instruction} requires at least one argument`);
  if (ins.instruction === 'COPY' || ins.instruction === 'ADD') {
    if (/<</.test(ins.args)) return;
    if (copyWords(ins.args).length < 2) throw fail(`${ins.instruction} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  if (ins.instruction === 'ENV' && !/^\S+(\s+\S|=)/.test(ins.args)) throw fail('ENV must have two arguments');
}

/** The words of a COPY/ADD (flags removed), JSON form or shell form. */
function copyWords(args: string): string[] {
  const trimmed = args.trim();
  const rest = trimmed.replace(/^(--\S+\s+)*/, '');
  if (rest.startsWith('[')) {
    try {
      const list = JSON.parse(rest);
      if (Array.isArray(list)) return list.map(String);
    } catch {
      // not JSON: shell form
    }
  }
  return trimmed.split(/\s+/).filter((w) => !w.startsWith('--'));
}

/**
 * What `docker build` checks against the build context: the --target stage exists, and every COPY/ADD
 * source (not `--from`, not a URL) matches a file or folder of the context. `files` are context-relative paths.
 */
export function checkAgainstContext(dockerfile: Dockerfile, files: string[], target?: string): void {
  if (target && !dockerfile.stages.some((s) => s.name === target.toLowerCase())) {
    throw new DockerfileError(`failed to reach build target ${target} in Dockerfile`);
  }
  const lastStage = target ? dockerfile.stages.findIndex((s) => s.name === target.toLowerCase()) : dockerfile.stages.length - 1;
  for (const stage of dockerfile.stages.slice(0, lastStage + 1)) {
    for (const ins of stage.instructions) {
      if (ins.instruction !== 'COPY' && ins.instruction !== 'ADD') continue;
      if (/--from=/.test(ins.args) || /<</.test(ins.args)) continue;
      const words = copyWords(ins.args);
      for (const source of words.slice(0, -1)) {
        if (/^https?:\/\//.test(source) || /^git@/.test(source)) continue;
        if (!matchesContext(source, files)) {
          throw new DockerfileError(`failed to compute cache key: failed to calculate checksum of ref: "/${normalise(source)}": not found (Dockerfile line ${ins.line}: ${ins.instruction} ${ins.args})`);
        }
      }
    }
  }
}

function normalise(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A source matches a file, or a folder (any file below it); `.` is the whole context. */
function matchesContext(source: string, files: string[]): boolean {
  const path = normalise(source);
  if (path === '') return true;
  const re = globToRegExp(path);
  return files.some((f) => re.test(f) || f.startsWith(`${path}/`) || f.split('/').some((_, i, parts) => re.test(parts.slice(0, i + 1).join('/'))));
}

/** Paths a `.dockerignore` leaves out of the context (patterns with `*`, `**`, `?` and `!` exceptions). */
export function applyDockerignore(files: string[], dockerignore: string | undefined): string[] {
  if (!dockerignore) return files;
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ exclude: !l.startsWith('!'), re: globToRegExp(normalise(l.replace(/^!/, ''))) }));
  return files.filter((file) => {
    let excluded = false;
    const prefixes = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) excluded = rule.exclude;
    return !excluded;
  });
}
