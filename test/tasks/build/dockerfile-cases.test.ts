// The Dockerfile preflight, case by case on the sample app: Dockerfiles written per file (layer caching)
// or per folder pass; each broken variant fails with its message at the right Dockerfile line.
// A case's `at` is the text of the line the problem must point at.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { preflight } from '../../../tasks/build/dockerfile-check.js';
import { preflightService } from '../../../tasks/build/index.js';
import { readWorkspace } from '../../../tasks/build/workspace.js';
import { infra as config } from '../../../tasks.config.js';
import { copySampleApp, type AppCopy } from '../deploy/app.js';

const infra = resolveInfra(config, { env: 'development', project: 'demo-project', region: 'us-central1', vars: {} });
const serviceOf = (key: string) => infra.services.find((s) => s.key === key)!;

let app: AppCopy;
test.before.each(() => {
  app = copySampleApp();
});
test.after.each(() => app.cleanup());

const gatewayFile = fs.readFileSync(path.join(import.meta.dirname, '../../../sample-app/apps/api-gateway/Dockerfile'), 'utf8');

/** The sample's per-file api-gateway Dockerfile with some lines replaced (each must exist). */
function edit(base: string, ...changes: [string, string][]): string {
  let text = base;
  for (const [from, to] of changes) {
    assert.ok(text.includes(from), `the base Dockerfile has ${from}`);
    text = text.replace(from, to);
  }
  return text;
}

const PRISMA_RUN = `RUN pnpm --filter @clone/database prisma:generate \\
    || (sleep 5 && pnpm --filter @clone/database prisma:generate)`;

/** A per-folder Dockerfile: whole packages copied, client generated in both stages. */
const perFolder = `FROM node:20-alpine AS builder
RUN corepack enable
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/logger ./packages/logger
COPY packages/config ./packages/config
COPY packages/validation ./packages/validation
COPY packages/database ./packages/database
COPY apps/api-gateway ./apps/api-gateway
RUN pnpm install --frozen-lockfile --filter @clone/api-gateway...
RUN pnpm --filter @clone/database exec prisma generate

FROM node:20-alpine AS production
WORKDIR /app
COPY --from=builder /app/package.json /app/pnpm-lock.yaml /app/pnpm-workspace.yaml ./
COPY --from=builder /app/packages ./packages
COPY --from=builder /app/apps/api-gateway ./apps/api-gateway
RUN pnpm install --frozen-lockfile --prod --filter @clone/api-gateway...
RUN npx --yes prisma@5.22.0 generate --schema=packages/database/prisma/schema.prisma
CMD ["node", "apps/api-gateway/src/index.js"]
`;

interface Case {
  name: string;
  service?: string;
  dockerfile: string;
  /** Changes to the app before the check. */
  setup?: (app: AppCopy) => void;
  /** Expected problems: the line they point at (its text; absent: no line) and what they say. */
  problems: { at?: string; says: RegExp }[];
}

const cases: Case[] = [
  // ------------------------------------------------------------------ passing
  { name: 'the sample per-file Dockerfile (layer caching, Prisma through a filtered script with a retry)', dockerfile: gatewayFile, problems: [] },
  { name: 'whole folders copied, client generated in both stages', dockerfile: perFolder, problems: [] },
  {
    name: 'COPY . . in the build stage, the whole /app copied to production',
    dockerfile: `FROM node:20-alpine AS builder\nWORKDIR /app\nCOPY . .\nRUN pnpm install --frozen-lockfile\nRUN npx prisma generate --schema=packages/database/prisma/schema.prisma\nFROM node:20-alpine AS production\nWORKDIR /app\nCOPY --from=builder /app ./\nCMD ["node", "apps/api-gateway/src/index.js"]\n`,
    problems: [],
  },
  {
    name: 'COPY --parents with a glob keeps every manifest in its folder',
    dockerfile: edit(gatewayFile, ['COPY packages/logger/package.json ./packages/logger/\nCOPY packages/config/package.json ./packages/config/\nCOPY packages/validation/package.json ./packages/validation/\nCOPY packages/database/package.json ./packages/database/', 'COPY --parents packages/*/package.json ./']),
    problems: [],
  },
  {
    name: 'exec (JSON) form, --chown and --link flags',
    dockerfile: edit(gatewayFile, ['COPY packages/config/src ./packages/config/src', 'COPY --link --chown=node:node ["packages/config/src", "./packages/config/src"]']),
    problems: [],
  },
  {
    name: 'prisma generate with an explicit schema that exists',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN npx --yes prisma@5.22.0 generate --schema=packages/database/prisma/schema.prisma']),
    problems: [],
  },
  {
    name: 'prisma generate through pnpm exec after cd into the package',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN cd packages/database && pnpm exec prisma generate']),
    problems: [],
  },
  {
    name: 'prisma generate through a root script that filters to the database package',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN pnpm db:generate']),
    problems: [],
  },
  {
    name: 'prisma generate through pnpm --filter=<pkg> run <script>, second in an || chain',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN false || pnpm --filter=@clone/database run prisma:generate']),
    problems: [],
  },
  {
    name: 'a RUN continued over lines with a comment line inside',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN echo generating \\\n    # the client for the current platform\n    && pnpm --filter @clone/database prisma:generate']),
    problems: [],
  },
  {
    name: 'a workspace root that is not the WORKDIR (absolute destinations)',
    dockerfile: `FROM node:20-alpine AS builder\nCOPY package.json pnpm-lock.yaml pnpm-workspace.yaml /srv/app/\nCOPY packages /srv/app/packages\nCOPY apps/api-gateway /srv/app/apps/api-gateway\nRUN cd /srv/app && pnpm install && pnpm --filter @clone/database exec prisma generate\nFROM node:20-alpine AS production\nCOPY --from=builder /srv/app /srv/app\nCMD ["node", "/srv/app/apps/api-gateway/src/index.js"]\n`,
    problems: [],
  },
  {
    name: 'ADD of a URL and COPY --from an external image read nothing from the context',
    dockerfile: edit(gatewayFile, ['USER node', 'ADD https://example.com/ca.crt /etc/ssl/certs/extra.crt\nCOPY --from=busybox:1.36 /bin/wget /usr/local/bin/wget\nUSER node']),
    problems: [],
  },
  {
    name: 'a service without Prisma needs no generation',
    service: 'face-processing-service',
    dockerfile: fs.readFileSync(path.join(import.meta.dirname, '../../../sample-app/services/face-processing-service/Dockerfile'), 'utf8'),
    problems: [],
  },
  {
    name: 'a service listing prisma itself, with no schema anywhere, is not asked to generate',
    service: 'face-processing-service',
    dockerfile: fs.readFileSync(path.join(import.meta.dirname, '../../../sample-app/services/face-processing-service/Dockerfile'), 'utf8'),
    setup: (a) => {
      const manifest = JSON.parse(a.read('services/face-processing-service/package.json'));
      manifest.dependencies = { ...manifest.dependencies, prisma: '5.22.0', '@prisma/client': '5.22.0' };
      a.write('services/face-processing-service/package.json', JSON.stringify(manifest));
    },
    problems: [],
  },
  {
    name: 'a Python service gets the generic checks only',
    service: 'voice-cloning-service',
    dockerfile: fs.readFileSync(path.join(import.meta.dirname, '../../../sample-app/services/voice-cloning-service/Dockerfile.cpu'), 'utf8'),
    problems: [],
  },
  // ------------------------------------------------------------------ failing
  {
    name: 'a dependency\'s src never copied',
    dockerfile: edit(gatewayFile, ['COPY packages/config/src ./packages/config/src\n', '']),
    problems: [{ at: 'COPY apps/api-gateway/src ./apps/api-gateway/src', says: /its sources \(packages\/config\/src\) of @clone\/config \(packages\/config, needed through @clone\/api-gateway → @clone\/validation → @clone\/config\) are never copied into stage "builder": add `COPY packages\/config\/src \.\/packages\/config\/src`/ }],
  },
  {
    name: 'a dependency\'s manifest never copied',
    dockerfile: edit(gatewayFile, ['COPY packages/validation/package.json ./packages/validation/\n', '']),
    problems: [{ at: 'COPY apps/api-gateway/package.json ./apps/api-gateway/', says: /packages\/validation\/package\.json of @clone\/validation .* is never copied into stage "builder": add `COPY packages\/validation\/package\.json \.\/packages\/validation\/`/ }],
  },
  {
    name: 'a transitive dependency never copied at all',
    dockerfile: edit(gatewayFile, ['COPY packages/config/package.json ./packages/config/\n', ''], ['COPY packages/config/src ./packages/config/src\n', '']),
    problems: [{ at: 'COPY apps/api-gateway/src ./apps/api-gateway/src', says: /@clone\/config is never copied into the image, but @clone\/api-gateway needs it \(@clone\/api-gateway → @clone\/validation → @clone\/config\): add `COPY packages\/config \.\/packages\/config`/ }],
  },
  {
    name: 'the service\'s own sources never copied',
    dockerfile: edit(gatewayFile, ['COPY apps/api-gateway/src ./apps/api-gateway/src\n', '']),
    problems: [{ at: 'COPY packages/database/src ./packages/database/src', says: /its sources \(apps\/api-gateway\/src\) of the service's own package apps\/api-gateway are never copied/ }],
  },
  {
    name: 'the lockfile never copied',
    dockerfile: edit(gatewayFile, ['COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./', 'COPY package.json pnpm-workspace.yaml ./']),
    problems: [{ at: 'COPY package.json pnpm-workspace.yaml ./', says: /the workspace root's pnpm-lock\.yaml is never copied into stage "builder"/ }],
  },
  {
    name: 'no Prisma generation anywhere (the fix names the existing schema\'s package script)',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, '']),
    problems: [{ at: 'COPY packages/database/prisma ./packages/database/prisma', says: /not generated in the build stage "builder", and @clone\/api-gateway depends on @clone\/database .*packages\/database\/prisma\/schema\.prisma.*: add `RUN pnpm --filter @clone\/database prisma:generate`/ }],
  },
  {
    name: 'Prisma generated before the schema is copied',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, ''], ['RUN --mount=type=cache', 'RUN pnpm --filter @clone/database prisma:generate\nRUN --mount=type=cache']),
    problems: [{ at: 'RUN pnpm --filter @clone/database prisma:generate', says: /generated before the schema packages\/database\/prisma\/schema\.prisma is in the image/ }],
  },
  {
    name: 'Prisma generated in a stage the image is not built from',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, ''], ['FROM base AS production', 'FROM builder AS prisma\nRUN npx prisma generate --schema=packages/database/prisma/schema.prisma\n\nFROM base AS production']),
    problems: [{ at: 'RUN npx prisma generate --schema=packages/database/prisma/schema.prisma', says: /generated in stage "prisma", which the image is not built from/ }],
  },
  {
    name: 'a production stage that reinstalls without generating the client',
    dockerfile: perFolder.replace('RUN npx --yes prisma@5.22.0 generate --schema=packages/database/prisma/schema.prisma\n', ''),
    problems: [{ at: 'FROM node:20-alpine AS production', says: /not generated in the production stage "production", nor copied into it with node_modules/ }],
  },
  {
    name: 'a --schema that does not exist (the suggestion the old preflight made)',
    dockerfile: edit(gatewayFile, [PRISMA_RUN, 'RUN npx prisma generate --schema=apps/api-gateway/prisma/schema.prisma']),
    problems: [
      { at: 'COPY packages/database/prisma ./packages/database/prisma', says: /not generated in the build stage/ },
      { at: 'RUN npx prisma generate --schema=apps/api-gateway/prisma/schema.prisma', says: /names \/app\/apps\/api-gateway\/prisma\/schema\.prisma, which is not in the image at this point: the schema is \/app\/packages\/database\/prisma\/schema\.prisma/ },
    ],
  },
  {
    name: 'a COPY of a file that does not exist',
    dockerfile: edit(gatewayFile, ['COPY packages/config/src ./packages/config/src', 'COPY packages/config/src ./packages/config/src\nCOPY packages/config/tsconfig.json ./packages/config/']),
    problems: [{ at: 'COPY packages/config/tsconfig.json ./packages/config/', says: /COPY packages\/config\/tsconfig\.json: there is no such file or folder in the build context/ }],
  },
  {
    name: 'a COPY of a folder .dockerignore leaves out',
    dockerfile: edit(gatewayFile, ['USER node', 'COPY apps/api-gateway/src/__tests__ ./tests\nUSER node']),
    problems: [{ at: 'COPY apps/api-gateway/src/__tests__ ./tests', says: /\.dockerignore leaves it out of the build context/ }],
  },
  {
    name: 'a glob that flattens every manifest into one file',
    dockerfile: edit(gatewayFile, ['COPY packages/logger/package.json ./packages/logger/\nCOPY packages/config/package.json ./packages/config/\nCOPY packages/validation/package.json ./packages/validation/\nCOPY packages/database/package.json ./packages/database/', 'COPY packages/*/package.json ./packages/']),
    problems: ['config', 'database', 'logger', 'validation'].map((p) => ({ at: 'COPY packages/*/package.json ./packages/', says: new RegExp(`packages/${p}/package\\.json of @clone/${p} .* is never copied`) })),
  },
  {
    name: 'several folders merged into one destination',
    dockerfile: edit(gatewayFile, ['COPY packages/logger/src ./packages/logger/src\nCOPY packages/config/src ./packages/config/src', 'COPY packages/logger/src packages/config/src ./packages/']),
    problems: ['logger', 'config'].map((p) => ({ at: 'COPY packages/logger/src packages/config/src ./packages/', says: new RegExp(`its sources \\(packages/${p}/src\\) of @clone/${p}`) })),
  },
  {
    name: 'a line Docker cannot parse',
    dockerfile: edit(gatewayFile, ['FROM base AS production', 'FORM base AS production']),
    problems: [{ at: 'FORM base AS production', says: /Docker cannot parse this line: unknown instruction: FORM/ }],
  },
  {
    name: 'one stage only',
    dockerfile: `FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nRUN pnpm install && pnpm --filter @clone/database prisma:generate\nCMD ["node", "apps/api-gateway/src/index.js"]\n`,
    problems: [{ at: 'FROM node:20-alpine', says: /only 1 stage \(FROM\): use a multi-stage build/ }],
  },
  {
    name: 'a Python service copying a file that is not there',
    service: 'voice-cloning-service',
    dockerfile: 'FROM python:3.11-slim\nWORKDIR /app\nCOPY requirement.txt ./\nRUN pip install -r requirement.txt\nCOPY app ./app\n',
    problems: [{ at: 'COPY requirement.txt ./', says: /COPY requirement\.txt: there is no such file/ }],
  },
  {
    name: 'a key the .gcloudignore explicitly re-includes is refused, named',
    dockerfile: gatewayFile,
    setup: (a) => {
      a.write('apps/api-gateway/src/dev.pem', '-----BEGIN PRIVATE KEY-----\n');
      a.append('.gcloudignore', '!apps/api-gateway/src/dev.pem\n');
    },
    problems: [{ says: /apps\/api-gateway\/src\/dev\.pem looks like a credential or local clutter and is never uploaded, but \.gcloudignore re-includes it \(`!apps\/api-gateway\/src\/dev\.pem`\)/ }],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const service = serviceOf(c.service ?? 'api-gateway');
    app.write(service.dockerfile, c.dockerfile);
    c.setup?.(app);
    const lines = c.dockerfile.split('\n');
    const { problems } = preflight(app.root, preflightService(service), readWorkspace(app.root));
    const shown = JSON.stringify(problems, null, 2);
    assert.is(problems.length, c.problems.length, shown);
    for (const expected of c.problems) {
      const line = expected.at === undefined ? undefined : lines.findIndex((l) => l.trim() === expected.at) + 1;
      assert.ok(line !== 0, `the case's Dockerfile has the line ${expected.at}`);
      assert.ok(problems.some((p) => p.line === line && expected.says.test(p.message)), `expected at line ${line}: ${expected.says}\n${shown}`);
    }
  });
}

test('at least 25 Dockerfile cases', () => {
  assert.ok(cases.length >= 25, String(cases.length));
});

test.run();
