// The sandbox's Dockerfile checks (what `docker build` would reject in Cloud Build).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DockerfileError, applyDockerignore, checkAgainstContext, parseDockerfile } from '../../lib/sandbox/dockerfile.js';

const error = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DockerfileError);
    return (err as Error).message;
  }
  throw new Error('expected a DockerfileError');
};

test('multi-stage file with continuations, comments, heredoc and directives parses into stages', () => {
  const d = parseDockerfile('# syntax=docker/dockerfile:1\nARG NODE=20\nFROM node:${NODE} AS Build\nRUN a \\\n  # note\n  && b\nRUN <<EOF\nnot an instruction\nEOF\nFROM node:20\nCOPY --from=build /app /app\n');
  assert.equal(d.stages.map((s) => [s.from, s.name, s.instructions.map((i) => i.instruction)]), [
    ['node:${NODE}', 'build', ['RUN', 'RUN']],
    ['node:20', undefined, ['COPY']],
  ]);
  assert.is(d.instructions[2]!.args, 'a && b');
});

test('Docker\'s parse errors: unknown instruction (with its line), no FROM, empty file, missing arguments', () => {
  assert.is(error(() => parseDockerfile('FROM x\n\nFROBNICATE y\n')), 'dockerfile parse error on line 3: unknown instruction: FROBNICATE');
  assert.is(error(() => parseDockerfile('RUN echo\n')), 'dockerfile parse error on line 1: no build stage in current context');
  assert.is(error(() => parseDockerfile('# only a comment\n')), 'the Dockerfile cannot be empty');
  assert.match(error(() => parseDockerfile('FROM x\nCOPY onlyone\n')), 'line 2: COPY requires at least two arguments');
  assert.match(error(() => parseDockerfile('FROM a b\n')), 'FROM requires either one or three arguments');
});

test('context checks: COPY sources (files, folders, globs) must exist; --target must name a stage', () => {
  const d = parseDockerfile('FROM x AS deps\nCOPY package*.json ./\nCOPY src/ /src\nFROM x AS final\nCOPY --from=deps /a /a\nCOPY dist /dist\n');
  const files = ['package.json', 'src/index.ts'];
  checkAgainstContext(d, files, 'deps');
  assert.match(error(() => checkAgainstContext(d, files)), 'failed to compute cache key: failed to calculate checksum of ref: "/dist": not found');
  assert.is(error(() => checkAgainstContext(d, files, 'nope')), 'failed to reach build target nope in Dockerfile');
});

test('.dockerignore removes files from the context, with ! exceptions', () => {
  assert.equal(applyDockerignore(['a.txt', 'node_modules/x/y.js', 'docs/keep.md', 'docs/drop.md'], 'node_modules\ndocs/*\n!docs/keep.md\n'), ['a.txt', 'docs/keep.md']);
});

test.run();
