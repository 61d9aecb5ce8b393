// "Runs" the steps of a Cloud Build build against its source, without Docker: `docker build` steps are checked
// the way Docker would check them (Dockerfile present and parsable, COPY sources in the context, --target
// stage exists, a RUN that is just `false` or `exit N` fails) and produce an image whose digest is derived from what went into it (an unchanged source
// gives the same digest); `docker tag`/`docker push` move those images around; every other step succeeds.
// The result is the build's outcome and its log, in Cloud Build's log format.
import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import { dockerignoreCandidates } from '../dockerfile/context.js';
import { DockerfileError, applyDockerignore, checkAgainstContext, failingRun, parseDockerfile } from './dockerfile.js';
import { imageRepository } from './images.js';

export interface BuildStep {
  name: string;
  args?: string[];
  dir?: string;
  id?: string;
  entrypoint?: string;
  env?: string[];
}

export interface BuiltImage {
  /** Full reference with tag, as listed in `images`. */
  ref: string;
  digest: string;
  sizeBytes: number;
}

export interface BuildOutcome {
  status: 'SUCCESS' | 'FAILURE';
  failure?: { type: 'USER_BUILD_STEP' | 'FETCH_SOURCE_FAILED' | 'PUSH_IMAGE_NOT_FOUND'; detail: string };
  /** Status of each step: SUCCESS, FAILURE, or CANCELLED after a failure. */
  stepStatuses: string[];
  /** Images of `images` to push when the build ends (each built by a step). */
  images: BuiltImage[];
  log: string[];
}

/** Flags of `docker build` that take a value (the others are switches). */
const VALUE_FLAGS = new Set([
  '-t', '--tag', '-f', '--file', '--build-arg', '--target', '--network', '--cache-from', '--cache-to', '--platform', '--label', '--add-host', '--secret',
  '--ssh', '--progress', '--iidfile', '-m', '--memory', '--shm-size', '--cpu-quota', '--cpu-shares', '--cgroup-parent', '--isolation', '--ulimit', '--output', '-o',
]);

interface DockerBuildArgs {
  tags: string[];
  file?: string;
  target?: string;
  buildArgs: string[];
  context: string;
}

function parseDockerBuild(args: string[]): DockerBuildArgs {
  const out: DockerBuildArgs = { tags: [], buildArgs: [], context: '.' };
  const positional: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.match(/^(--?[\w-]+)=(.*)$/s);
    const flag = eq ? eq[1]! : arg;
    if (!flag.startsWith('-') || flag === '-') {
      positional.push(arg);
      continue;
    }
    const value = eq ? eq[2]! : VALUE_FLAGS.has(flag) ? args[++i] ?? '' : undefined;
    if (flag === '-t' || flag === '--tag') out.tags.push(value!);
    else if (flag === '-f' || flag === '--file') out.file = value;
    else if (flag === '--target') out.target = value;
    else if (flag === '--build-arg') out.buildArgs.push(value!);
  }
  if (positional.length) out.context = positional[positional.length - 1]!;
  return out;
}

const isDocker = (step: BuildStep) => /(^|\/)docker(:[\w.-]+)?$/.test(step.name) || step.entrypoint === 'docker';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Docker's workspace path of a context-relative file (`/workspace/…`). */
const inWorkspace = (p: string) => path.join('/workspace', p);

export function runBuildSteps(input: { buildId: string; steps: BuildStep[]; images: string[]; files: Map<string, Buffer> }): BuildOutcome {
  const log: string[] = [`starting build "${input.buildId}"`, '', 'FETCHSOURCE'];
  const fileCount = input.files.size;
  const bytes = [...input.files.values()].reduce((n, b) => n + b.length, 0);
  log.push(`Fetched ${fileCount} file(s) (${bytes} bytes) of source.`, 'BUILD');
  const local = new Map<string, BuiltImage>();
  const stepStatuses: string[] = input.steps.map(() => 'CANCELLED');
  const fail = (index: number, reason: string): BuildOutcome => {
    const step = input.steps[index]!;
    const message = `build step ${index} "${step.name}" failed: step exited with non-zero status: 1`;
    log.push(`Step #${index}: ${reason}`, `Finished Step #${index}`, 'ERROR', `ERROR: ${message}`);
    stepStatuses[index] = 'FAILURE';
    return { status: 'FAILURE', failure: { type: 'USER_BUILD_STEP', detail: `Build step failure: ${message}: ${reason}` }, stepStatuses, images: [], log };
  };

  for (const [index, step] of input.steps.entries()) {
    const args = step.args ?? [];
    const prefix = `Step #${index}${step.id ? ` - "${step.id}"` : ''}: `;
    log.push(`Starting Step #${index}${step.id ? ` - "${step.id}"` : ''}`, `${prefix}Already have image (with digest): ${step.name}`);
    if (isDocker(step) && args[0] === 'build') {
      const result = dockerBuild(input.files, step, parseDockerBuild(args), prefix);
      log.push(...result.log);
      if ('error' in result) return fail(index, result.error);
      for (const image of result.images) local.set(image.ref, image);
    } else if (isDocker(step) && args[0] === 'tag' && args.length >= 3) {
      const source = local.get(args[1]!);
      if (!source) return fail(index, `Error response from daemon: No such image: ${args[1]}`);
      local.set(args[2]!, { ...source, ref: args[2]! });
    } else if (isDocker(step) && args[0] === 'push' && args[1]) {
      const image = local.get(args[1]);
      if (!image) return fail(index, `An image does not exist locally with the tag: ${imageRepository(args[1])}`);
      log.push(`${prefix}The push refers to repository [${imageRepository(args[1])}]`, `${prefix}${args[1].split(':').pop()}: digest: ${image.digest} size: 1570`);
    } else {
      log.push(`${prefix}(the sandbox does not run this step's container; it succeeds)`);
    }
    log.push(`Finished Step #${index}`);
    stepStatuses[index] = 'SUCCESS';
  }

  const images: BuiltImage[] = [];
  for (const ref of input.images) {
    const image = local.get(ref) ?? local.get(`${ref}:latest`);
    if (!image) {
      const detail = `failed to find one or more images after execution of build steps: ["${ref}"]`;
      log.push('PUSH', `ERROR: ${detail}`);
      return { status: 'FAILURE', failure: { type: 'PUSH_IMAGE_NOT_FOUND', detail }, stepStatuses, images: [], log };
    }
    images.push({ ...image, ref });
  }
  return { status: 'SUCCESS', stepStatuses, images, log };
}

function dockerBuild(files: Map<string, Buffer>, step: BuildStep, args: DockerBuildArgs, prefix: string): { images: BuiltImage[]; log: string[] } | { error: string; log: string[] } {
  const log: string[] = [];
  const cwd = path.normalize(step.dir ?? '.');
  const contextDir = path.normalize(path.join(cwd, args.context));
  const dockerfilePath = path.normalize(args.file ? path.join(cwd, args.file) : path.join(contextDir, 'Dockerfile'));
  const text = files.get(dockerfilePath.replace(/^\.\//, ''));
  if (text === undefined) {
    return { error: `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${inWorkspace(dockerfilePath)}: no such file or directory`, log };
  }
  const under = contextDir === '.' ? '' : `${contextDir}/`;
  const inContext = [...files.keys()].filter((f) => f.startsWith(under)).map((f) => f.slice(under.length));
  // BuildKit reads `<Dockerfile>.dockerignore` when there is one, else the context root's `.dockerignore`.
  const dockerfileInContext = dockerfilePath.startsWith(under) ? dockerfilePath.slice(under.length) : path.basename(dockerfilePath);
  const ignoreFile = dockerignoreCandidates(dockerfileInContext).map((f) => files.get(`${under}${f}`)).find((b) => b !== undefined);
  const contextFiles = applyDockerignore(inContext, ignoreFile?.toString('utf8'));
  const contextBytes = contextFiles.reduce((n, f) => n + files.get(`${under}${f}`)!.length, 0);
  log.push(`${prefix}Sending build context to Docker daemon  ${(contextBytes / 1024).toFixed(2)}kB`);
  try {
    const dockerfile = parseDockerfile(text.toString('utf8'));
    checkAgainstContext(dockerfile, contextFiles, args.target);
    dockerfile.instructions.forEach((ins, i) => log.push(`${prefix}Step ${i + 1}/${dockerfile.instructions.length} : ${ins.instruction} ${ins.args}`));
    const failing = failingRun(dockerfile);
    if (failing) return { error: `The command '/bin/sh -c ${failing.args}' returned a non-zero code: 1 (Dockerfile line ${failing.line})`, log };
  } catch (err) {
    if (err instanceof DockerfileError) return { error: err.message, log };
    throw err;
  }
  if (args.tags.length === 0) return { images: [], log };
  // The digest depends on the Dockerfile, the context's files, the target, the build args and the image name.
  const inputs = contextFiles.sort().map((f) => `${f}\0${sha256(files.get(`${under}${f}`)!)}`).join('\n');
  const base = sha256(`${text}\n${args.target ?? ''}\n${args.buildArgs.join('\n')}\n${inputs}`);
  const images = args.tags.map((ref) => ({ ref, digest: `sha256:${sha256(`${base}\n${imageRepository(ref)}`)}`, sizeBytes: 48_000_000 + contextBytes }));
  log.push(`${prefix}Successfully built ${images[0]!.digest.slice(7, 19)}`, ...args.tags.map((t) => `${prefix}Successfully tagged ${t}`));
  return { images, log };
}
