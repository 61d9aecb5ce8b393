// What `docker build` rejects before running anything: a file Docker cannot parse (unknown instruction,
// no FROM, missing arguments), a --target that names no stage, COPY/ADD sources that are not in the build
// context. The parsing and the context rules are lib/dockerfile's, the same the build preflight uses, so
// the sandbox and the preflight never disagree on a file. Messages follow Docker's (BuildKit) wording.
import { contextPath, dockerignoreFilter, simulate } from '../dockerfile/context.js';
import { DockerfileSyntaxError, parseDockerfile as parse, type Dockerfile as Parsed } from '../dockerfile/parse.js';

export interface DockerInstruction {
  /** Upper-case instruction, e.g. `COPY`. */
  instruction: string;
  /** The rest of the (joined) line, flags included. */
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
  parsed: Parsed;
}

export class DockerfileError extends Error {}

const view = (ins: Parsed['instructions'][number]): DockerInstruction => ({
  instruction: ins.keyword,
  args: [...Object.entries(ins.flags).map(([k, v]) => (v === '' ? `--${k}` : `--${k}=${v}`)), ins.args].join(' ').trim(),
  line: ins.line,
});

/** Parses a Dockerfile; throws DockerfileError with Docker's message when it is not valid. */
export function parseDockerfile(text: string): Dockerfile {
  let parsed: Parsed;
  try {
    parsed = parse(text);
  } catch (error) {
    if (error instanceof DockerfileSyntaxError) throw new DockerfileError(error.message);
    throw error;
  }
  if (!parsed.stages.length) throw new DockerfileError('dockerfile parse error: no build stage in current context (the Dockerfile has no FROM)');
  return {
    parsed,
    instructions: parsed.instructions.map(view),
    stages: parsed.stages.map((s) => ({ from: s.base, name: s.name, instructions: s.instructions.map(view) })),
  };
}

/**
 * What `docker build` checks against the build context: the --target stage exists, and every COPY/ADD
 * source (not `--from`, not a URL) matches a file or folder of the context. `files` are context-relative paths.
 */
export function checkAgainstContext(dockerfile: Dockerfile, files: string[], target?: string): void {
  const { parsed } = dockerfile;
  const last = target ? parsed.stages.findIndex((s) => s.name === target.toLowerCase()) : parsed.stages.length - 1;
  if (last < 0) throw new DockerfileError(`failed to reach build target ${target} in Dockerfile`);
  const built = parsed.stages.slice(0, last + 1);
  for (const step of simulate(parsed, files).copies) {
    if (!built.includes(step.stage)) continue;
    const missing = step.reached.find((r) => r.files.length === 0 && contextPath(r.source) !== '');
    if (missing) {
      const shown = view(step.ins);
      throw new DockerfileError(
        `failed to compute cache key: failed to calculate checksum of ref: "/${contextPath(missing.source)}": not found (Dockerfile line ${step.ins.line}: ${shown.instruction} ${shown.args})`,
      );
    }
  }
}

/** A RUN whose whole command is `false` or `exit N` (N ≠ 0): the one kind of RUN failure the sandbox can know. */
export function failingRun(dockerfile: Dockerfile): DockerInstruction | undefined {
  return dockerfile.instructions.find((i) => i.instruction === 'RUN' && /^(false|exit\s+0*[1-9]\d*)$/.test(i.args.trim()));
}

/** The context files a `.dockerignore` keeps (gitignore semantics anchored at the context root, `!` exceptions). */
export function applyDockerignore(files: string[], dockerignore: string | undefined): string[] {
  return files.filter(dockerignoreFilter(dockerignore));
}
