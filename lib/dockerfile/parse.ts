// A Dockerfile read as Docker (BuildKit) reads it: parser directives, line continuations (comment lines
// inside them dropped), heredocs, exec (JSON) and shell forms, instruction flags, stages. Shared by the
// build preflight (tasks/build) and the sandbox's Cloud Build (lib/sandbox), so both judge a file alike.
// Syntax errors carry Docker's wording and the line.

export interface Instruction {
  /** Upper-case keyword, e.g. `COPY`. */
  keyword: string;
  /** Everything after the keyword and its flags, continuation lines joined. */
  args: string;
  /** `--from=builder` → { from: 'builder' }; a bare flag (`--link`) → ''. */
  flags: Record<string, string>;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  /** The image or earlier stage it starts from. */
  base: string;
  /** Line of its FROM. */
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** Instructions before the first FROM (ARG only). */
  preamble: Instruction[];
  /** Every instruction in file order, FROM included. */
  instructions: Instruction[];
}

export class DockerfileSyntaxError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const KEYWORDS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/** Parses a Dockerfile; throws DockerfileSyntaxError (Docker's message, with the line) when Docker would. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let escape = '\\';
  // Parser directives (`# escape=`` ` ``, `# syntax=`) only at the very top.
  for (const line of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }

  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*(#.*)?$/.test(lines[i]!)) continue;
    const start = i + 1;
    let joined = lines[i]!.trim();
    while (joined.endsWith(escape) && i + 1 < lines.length) {
      joined = joined.slice(0, -escape.length).trimEnd();
      i++;
      while (i + 1 < lines.length && /^\s*#/.test(lines[i]!)) i++;
      if (!/^\s*#/.test(lines[i]!)) joined += ' ' + lines[i]!.trim();
    }
    const m = /^(\S+)\s*([\s\S]*)$/.exec(joined)!;
    const keyword = m[1]!.toUpperCase();
    if (!KEYWORDS.has(keyword)) throw new DockerfileSyntaxError(`dockerfile parse error on line ${start}: unknown instruction: ${m[1]}`, start);
    let rest = m[2]!;
    const flags: Record<string, string> = {};
    for (let flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[flag[1]!.toLowerCase()] = flag[2] ?? '';
      rest = rest.slice(flag[0].length);
    }
    const instruction = { keyword, args: rest.trim(), flags, line: start };
    checkArguments(instruction);
    instructions.push(instruction);
    // Heredocs (`RUN <<EOF … EOF`): their body is not instructions.
    const heredoc = /<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/.exec(rest);
    if (heredoc && ['RUN', 'COPY', 'ADD'].includes(keyword)) {
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== heredoc[1]) i++;
      i++;
    }
  }
  if (!instructions.length) throw new DockerfileSyntaxError('the Dockerfile cannot be empty');

  const stages: Stage[] = [];
  const preamble: Instruction[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      const name = words.length === 3 && words[1]!.toUpperCase() === 'AS' ? words[2]!.toLowerCase() : undefined;
      if (words.length !== 1 && !name) throw new DockerfileSyntaxError(`dockerfile parse error on line ${ins.line}: FROM requires either one or three arguments`, ins.line);
      stages.push({ index: stages.length, name, base: words[0]!, line: ins.line, instructions: [] });
    } else if (stages.length) stages.at(-1)!.instructions.push(ins);
    else if (ins.keyword === 'ARG') preamble.push(ins);
    else throw new DockerfileSyntaxError(`dockerfile parse error on line ${ins.line}: no build stage in current context`, ins.line);
  }
  return { stages, preamble, instructions };
}

function checkArguments(ins: Instruction): void {
  const fail = (what: string) => new DockerfileSyntaxError(`dockerfile parse error on line ${ins.line}: ${what}`, ins.line);
  if (ins.keyword !== 'HEALTHCHECK' && ins.args === '') throw fail(`${ins.keyword} requires at least one argument`);
  if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && !ins.args.includes('<<') && words(ins.args).length < 2) {
    throw fail(`${ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  if (ins.keyword === 'ENV' && !/^\S+(\s+\S|=)/.test(ins.args)) throw fail('ENV must have two arguments');
}

/** Words of a shell-form argument list (quotes removed), or the elements of an exec form `["a", "b"]`. */
export function words(args: string): string[] {
  if (args.startsWith('[')) {
    try {
      const parsed = JSON.parse(args);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // Not valid JSON: Docker takes it as shell form.
    }
  }
  return args.split(/\s+/).filter(Boolean).map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
}

export interface CopySpec {
  sources: string[];
  dest: string;
  /** Stage name/index or image of `--from=`, when the copy does not read the build context. */
  from?: string;
  /** `--parents`: each source keeps its path under the destination. */
  parents: boolean;
}

/** Sources and destination of a COPY/ADD (undefined for other instructions and heredoc copies). */
export function copySpec(ins: Instruction): CopySpec | undefined {
  if ((ins.keyword !== 'COPY' && ins.keyword !== 'ADD') || ins.args.includes('<<')) return undefined;
  const list = words(ins.args);
  return { sources: list.slice(0, -1), dest: list.at(-1)!, from: ins.flags.from, parents: 'parents' in ins.flags };
}

/** Whether a source is remote (ADD of a URL or git repository): not read from the build context. */
export const isRemoteSource = (source: string) => /^(https?|git):\/\//.test(source) || /^git@/.test(source);

/** The stage a `--from=` / `FROM` reference names (by name or index), if it is a stage of this file. */
export function stageNamed(file: Dockerfile, ref: string): Stage | undefined {
  const lower = ref.toLowerCase();
  return file.stages.find((s) => s.name === lower) ?? (/^\d+$/.test(ref) ? file.stages[Number(ref)] : undefined);
}

/** A stage and the stages it is built FROM, nearest first. */
export function ancestry(file: Dockerfile, stage: Stage): Stage[] {
  const chain = [stage];
  for (let parent = stageNamed(file, stage.base); parent && !chain.includes(parent) && parent.index < stage.index; parent = stageNamed(file, parent.base)) chain.push(parent);
  return chain;
}

/** The command of a RUN: shell form as written, exec form joined with spaces. */
export function runCommand(ins: Instruction): string {
  return ins.args.startsWith('[') ? words(ins.args).join(' ') : ins.args;
}
