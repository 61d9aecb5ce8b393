// A Dockerfile read into stages and instructions, each with the line it starts on, so that a preflight
// problem can point at the line to fix. Handles line continuations, comments, JSON (exec) form and flags.

export interface Instruction {
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
  /** `AS name`, if any. */
  name?: string;
  /** The image (or earlier stage) it starts from. */
  base: string;
  /** Line of its FROM. */
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** Instructions before the first FROM (ARG). */
  preamble: Instruction[];
}

export function parseDockerfile(text: string): Dockerfile {
  const stages: Stage[] = [];
  const preamble: Instruction[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === 'FROM') {
      const [base = '', as, name] = instruction.args.split(/\s+/);
      stages.push({
        index: stages.length,
        name: as?.toUpperCase() === 'AS' ? name?.toLowerCase() : undefined,
        base: base.toLowerCase(),
        line: instruction.line,
        instructions: [],
      });
    } else {
      (stages.at(-1)?.instructions ?? preamble).push(instruction);
    }
  }
  return { stages, preamble };
}

/** The build-context paths a COPY/ADD reads (none for `--from=` copies), and its destination. */
export function copyPaths(instruction: Instruction): { sources: string[]; dest: string } | undefined {
  if ((instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') || 'from' in instruction.flags) return undefined;
  const words = splitWords(instruction.args);
  if (words.length < 2) return undefined;
  return { sources: words.slice(0, -1), dest: words.at(-1)! };
}

/** The stage a `--from=` / `FROM` reference names (by name or index), if it is a stage of this file. */
export function stageNamed(file: Dockerfile, ref: string): Stage | undefined {
  const lower = ref.toLowerCase();
  return file.stages.find((s) => s.name === lower) ?? (/^\d+$/.test(ref) ? file.stages[Number(ref)] : undefined);
}

/** A stage and the stages it is built FROM, nearest first. */
export function ancestry(file: Dockerfile, stage: Stage): Stage[] {
  const chain = [stage];
  for (let parent = stageNamed(file, stage.base); parent && !chain.includes(parent); parent = stageNamed(file, parent.base)) chain.push(parent);
  return chain;
}

/** The command text of a RUN (shell form as written; exec form joined with spaces). */
export function runCommand(instruction: Instruction): string {
  return splitWords(instruction.args).join(' ');
}

function* instructions(text: string): Generator<Instruction> {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let joined = first;
    // A trailing backslash continues the instruction; comment lines inside it are dropped (as Docker does).
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      joined = joined.slice(0, -1).trimEnd();
      let next = lines[++i].trim();
      while (next.startsWith('#') && i + 1 < lines.length) next = lines[++i].trim();
      joined += ' ' + next;
    }
    const match = /^(\S+)\s*(.*)$/s.exec(joined)!;
    const flags: Record<string, string> = {};
    let rest = match[2];
    for (let flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[flag[1].toLowerCase()] = flag[2] ?? '';
      rest = rest.slice(flag[0].length);
    }
    yield { keyword: match[1].toUpperCase(), args: rest.trim(), flags, line: start };
  }
}

/** Words of a shell-form argument list, or the elements of a JSON (exec) form `["a", "b"]`. */
function splitWords(args: string): string[] {
  if (args.startsWith('[')) {
    try {
      const parsed = JSON.parse(args);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // Not valid JSON: Docker treats it as shell form too.
    }
  }
  return args.split(/\s+/).filter(Boolean).map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
}
