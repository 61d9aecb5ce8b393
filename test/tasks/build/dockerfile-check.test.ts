// The Dockerfile preflight on the sample app and on the broken fixtures: every rule fails on its own
// fixture, names the line to fix, and a file with several problems lists them all. (More cases:
// dockerfile-cases.test.ts.)
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDockerfile } from '../../../lib/dockerfile/parse.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { preflight, preflightError } from '../../../tasks/build/dockerfile-check.js';
import { preflightService } from '../../../tasks/build/index.js';
import { dependencyClosure, packageAt, readWorkspace } from '../../../tasks/build/workspace.js';
import { infra } from '../../../tasks.config.js';
import { copySampleApp, dockerfileFixture, sampleApp } from '../deploy/app.js';

const resolved = resolveInfra(infra, { env: 'development', project: 'demo-project', region: 'us-central1', vars: {} });
const target = (key: string) => preflightService(resolved.services.find((s) => s.key === key)!);
const gateway = target('api-gateway');

/** Preflight of api-gateway with one of the fixture Dockerfiles in place. */
function withFixture(name: string) {
  const app = copySampleApp();
  try {
    fs.copyFileSync(dockerfileFixture(name), app.file(gateway.dockerfile));
    const lines = app.read(gateway.dockerfile).split('\n');
    return { ...preflight(app.root, gateway, readWorkspace(app.root)), lines };
  } finally {
    app.cleanup();
  }
}

test('the workspace graph is read from the package.json files, transitively', () => {
  const ws = readWorkspace(sampleApp);
  assert.equal([...ws.packages.keys()].sort(), [
    '@clone/api-gateway', '@clone/config', '@clone/database', '@clone/face-processing-service', '@clone/logger', '@clone/validation', '@clone/websocket-server',
  ]);
  const closure = (dir: string) => dependencyClosure(ws, packageAt(ws, dir)!).map((c) => c.pkg.name).sort();
  assert.equal(closure('apps/api-gateway'), ['@clone/config', '@clone/database', '@clone/logger', '@clone/validation']);
  assert.equal(closure('apps/websocket-server'), ['@clone/database', '@clone/logger']);
  assert.equal(closure('services/face-processing-service'), ['@clone/config', '@clone/logger']);
  const config = dependencyClosure(ws, packageAt(ws, 'apps/api-gateway')!).find((c) => c.pkg.name === '@clone/config')!;
  assert.equal(config.via, ['@clone/api-gateway', '@clone/validation', '@clone/config']);
});

test('pnpm-workspace.yaml in any YAML form, exclusions, and package.json fields of the wrong type', () => {
  const app = copySampleApp();
  try {
    const names = () => [...readWorkspace(app.root).packages.keys()].sort();
    const all = names();
    app.write('pnpm-workspace.yaml', "# the monorepo\npackages: ['apps/*', \"services/*\", packages/*, '!packages/validation']\n");
    assert.equal(names(), all.filter((n) => n !== '@clone/validation'), 'a flow list with quotes and an exclusion');
    app.write('pnpm-workspace.yaml', 'packages:\n  - apps/*   # the apps\n  - "packages/**"\n');
    assert.equal(names(), all.filter((n) => n !== '@clone/face-processing-service'), 'a block list, comments, ** (services/ left out)');
    app.write('apps/api-gateway/package.json', JSON.stringify({ name: '@clone/api-gateway', scripts: 'not a map', dependencies: { '@clone/logger': 'workspace:*' } }));
    const gw = readWorkspace(app.root).packages.get('@clone/api-gateway')!;
    assert.equal([gw.manifest.scripts, gw.deps], [undefined, ['@clone/logger']], 'a field of the wrong type counts as absent');
    app.write('pnpm-workspace.yaml', 'packages: [apps/*\n');
    assert.throws(() => readWorkspace(app.root), /pnpm-workspace\.yaml in the app is not valid YAML/);
  } finally {
    app.cleanup();
  }
});

test('every service Dockerfile of the sample app passes', () => {
  const ws = readWorkspace(sampleApp);
  assert.is(infra.services.length, 4);
  for (const s of infra.services) {
    const r = preflight(sampleApp, target(s.name), ws);
    assert.equal(r.problems, [], s.name);
  }
});

test('a single-stage Dockerfile is refused at its FROM line', () => {
  const r = withFixture('single-stage');
  assert.is(r.problems.length, 1);
  assert.match(r.problems[0].message, /only 1 stage/);
  assert.match(r.lines[r.problems[0].line! - 1], /^FROM /);
});

test('a transitive workspace dependency that is not copied is named with its chain and the COPY to add', () => {
  const r = withFixture('missing-transitive-dependency');
  assert.is(r.problems.length, 1, JSON.stringify(r.problems));
  assert.match(r.problems[0].message, /@clone\/config is never copied/);
  assert.match(r.problems[0].message, /@clone\/api-gateway → @clone\/validation → @clone\/config/);
  assert.match(r.problems[0].message, /COPY packages\/config \.\/packages\/config/);
  // The line to fix is next to the other COPY lines of the build stage.
  assert.match(r.lines[r.problems[0].line! - 1], /^COPY apps\/api-gateway/);
});

test('no Prisma client generation in the production stage is refused at that stage', () => {
  const r = withFixture('no-prisma-in-production');
  assert.is(r.problems.length, 1, JSON.stringify(r.problems));
  assert.match(r.problems[0].message, /not generated in the production stage "production"/);
  assert.match(r.lines[r.problems[0].line! - 1], /^FROM node:20-alpine AS production/);
});

test('no Prisma client generation in the build stage is refused where the schema is copied', () => {
  const r = withFixture('no-prisma-in-build');
  assert.is(r.problems.length, 1, JSON.stringify(r.problems));
  assert.match(r.problems[0].message, /not generated in the build stage "builder"/);
  assert.match(r.problems[0].message, /add `RUN pnpm --filter @clone\/database prisma:generate`/);
  assert.is(r.lines[r.problems[0].line! - 1], 'COPY packages ./packages');
});

test('a service without the database package needs no Prisma step', () => {
  const app = copySampleApp();
  try {
    const face = infra.services.find((s) => s.name === 'face-processing-service')!;
    assert.not.match(app.read(face.dockerfile), /prisma/);
    assert.equal(preflight(app.root, target(face.name), readWorkspace(app.root)).problems, []);
  } finally {
    app.cleanup();
  }
});

test('several problems are all listed, each with its line, in one readable error', () => {
  const r = withFixture('several-problems');
  const messages = r.problems.map((p) => p.message).join('\n');
  assert.match(messages, /only 1 stage/);
  assert.match(messages, /@clone\/logger is never copied/);
  assert.match(messages, /@clone\/config is never copied/);
  assert.match(messages, /Prisma client is not generated in the build stage 1/);
  assert.is(r.problems.length, 4);
  const error = preflightError(gateway, r.problems);
  assert.match(error.message, /apps\/api-gateway\/Dockerfile cannot build api-gateway \(4 problems\)/);
  for (const p of r.problems) assert.ok(error.message.includes(`apps/api-gateway/Dockerfile:${p.line}: `), error.message);
  assert.match(error.hint!, /Nothing was uploaded/);
});

test('a missing Dockerfile and a package that is not in the workspace are reported', () => {
  const app = copySampleApp();
  try {
    app.remove(gateway.dockerfile);
    const r = preflight(app.root, gateway, readWorkspace(app.root));
    assert.match(r.problems.map((p) => p.message).join('\n'), /apps\/api-gateway\/Dockerfile does not exist/);
    const elsewhere = preflight(app.root, { ...gateway, packageDir: 'apps/nope' }, readWorkspace(app.root));
    assert.match(elsewhere.problems[0].message, /apps\/nope is not a workspace package/);
  } finally {
    app.cleanup();
  }
});

test('Dockerfile parsing: continuations, comments inside them, flags, exec form, stage names', () => {
  const file = parseDockerfile([
    'ARG NODE=20',
    'FROM --platform=linux/amd64 node:${NODE} AS Build',
    'COPY --chown=node:node \\',
    '  # a comment inside the instruction',
    '  packages/logger packages/config \\',
    '  ./packages/',
    'RUN ["npx", "prisma", "generate"]',
    'from build as final',
    'COPY --from=build /app /app',
  ].join('\n'));
  assert.is(file.preamble[0].keyword, 'ARG');
  assert.equal(file.stages.map((s) => [s.name, s.base, s.line]), [['build', 'node:${NODE}', 2], ['final', 'build', 8]]);
  const copy = file.stages[0].instructions[0];
  assert.equal([copy.keyword, copy.line, copy.flags], ['COPY', 3, { chown: 'node:node' }]);
  assert.is(copy.args, 'packages/logger packages/config ./packages/');
  assert.is(file.stages[1].instructions[0].flags.from, 'build');
});

test.run();
