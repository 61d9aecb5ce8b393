// Cloud Build in the sandbox through the real gcloud: builds from an uploaded source directory, Dockerfile
// checks that fail a build with the reason in its log, images pushed to Artifact Registry with tags and a
// digest derived from the source, and the log tailed over TLS from the hard-wired storage.googleapis.com.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { sandboxCerts } from '../../lib/sandbox/certs.js';

const test = gcloudTests('Cloud Build sandbox tests');
let sandbox: TestSandbox;
let src: string;
let image: string;

const GOOD = `# syntax=docker/dockerfile:1
FROM node:20-alpine AS build
WORKDIR /app
COPY package.json ./
RUN npm install \\
    --omit=dev
COPY src ./src
FROM node:20-alpine
COPY --from=build /app /app
CMD ["node", "/app/src/index.js"]
`;

function config(dockerfile: string, tag: string): string {
  return [
    'steps:',
    '- name: gcr.io/cloud-builders/docker',
    `  args: ['build', '-t', '${image}:${tag}', '-t', '${image}:latest', '-f', '${dockerfile}', 'app']`,
    '- name: gcr.io/cloud-builders/npm',
    "  args: ['--version']",
    `images: ['${image}:${tag}', '${image}:latest']`,
    '',
  ].join('\n');
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(src, file)), { recursive: true });
  fs.writeFileSync(path.join(src, file), text);
}

const gcloud = (args: string[]) => sandbox.gcloud(args);

/** `builds submit --async` from the source folder; returns the build id. */
async function submitAsync(configFile: string): Promise<string> {
  const out = await gcloud(['builds', 'submit', `--config=${path.join(src, configFile)}`, '--async', '--format=value(id)', src]);
  assert.is(out.code, 0, out.stderr);
  return out.stdout.trim();
}

/** Polls `builds describe` (bounded) until the build left QUEUED/WORKING. */
async function finished(id: string): Promise<any> {
  for (let i = 0; i < 20; i++) {
    const out = await gcloud(['builds', 'describe', id, '--format=json']);
    assert.is(out.code, 0, out.stderr);
    const build = JSON.parse(out.stdout);
    if (!['QUEUED', 'WORKING'].includes(build.status)) return build;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`build ${id} did not finish`);
}

async function imagesByDigest(): Promise<Map<string, string[]>> {
  const out = await gcloud(['artifacts', 'docker', 'images', 'list', image.replace(/\/api-gateway$/, ''), '--include-tags', '--format=json']);
  assert.is(out.code, 0, out.stderr);
  return new Map((JSON.parse(out.stdout) as any[]).map((i) => [i.version, [...(i.tags ?? [])].sort()]));
}

test.before(async () => {
  sandbox = await startTestSandbox({ latencyScale: 0.01 });
  image = `us-central1-docker.pkg.dev/${sandbox.handle.project}/digitwinlive/api-gateway`;
  src = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-'));
  write('app/Dockerfile', GOOD);
  write('app/package.json', '{"name":"app"}\n');
  write('app/src/index.js', 'console.log("v1")\n');
  write('app/Dockerfile.bad', 'FROM node:20\nFROBNICATE now\n');
  write('good-v1.yaml', config('app/Dockerfile', 'v1'));
  write('good-v2.yaml', config('app/Dockerfile', 'v2'));
  write('bad.yaml', config('app/Dockerfile.bad', 'bad'));
  write('missing.yaml', config('app/nope/Dockerfile', 'missing'));
  write('tailed.yaml', `${config('app/Dockerfile.bad', 'tailed')}options:\n  logging: GCS_ONLY\n`);
  const enable = await gcloud(['services', 'enable', 'cloudbuild.googleapis.com', 'artifactregistry.googleapis.com']);
  assert.is(enable.code, 0, enable.stderr);
  const repo = await gcloud(['artifacts', 'repositories', 'create', 'digitwinlive', '--repository-format=docker', '--location=us-central1']);
  assert.is(repo.code, 0, repo.stderr);
});

test.after(async () => {
  await sandbox?.stop();
  fs.rmSync(src, { recursive: true, force: true });
});

let firstDigest = '';

test('builds submit --async: QUEUED at once, then SUCCESS; the image appears with its tags', async () => {
  const id = await submitAsync('good-v1.yaml');
  assert.match(id, /^[0-9a-f-]{36}$/);
  const build = await finished(id);
  assert.is(build.status, 'SUCCESS');
  assert.is(build.logsBucket, `gs://${(await sandbox.dump()).projects[sandbox.handle.project]!.projectNumber}.cloudbuild-logs.googleusercontent.com`);
  firstDigest = build.results.images[0].digest;
  assert.match(firstDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal((await imagesByDigest()).get(firstDigest), ['latest', 'v1']);
});

test('an unchanged source gives the same digest; a changed one a new digest that takes `latest`', async () => {
  const same = await finished(await submitAsync('good-v2.yaml'));
  assert.is(same.results.images[0].digest, firstDigest);
  write('app/src/index.js', 'console.log("v3")\n');
  const changed = await finished(await submitAsync('good-v1.yaml'));
  assert.is(changed.status, 'SUCCESS');
  const digest = changed.results.images[0].digest;
  assert.is.not(digest, firstDigest);
  const images = await imagesByDigest();
  assert.equal(images.get(digest), ['latest', 'v1']);
  assert.equal(images.get(firstDigest), ['v2']);
});

test('builds submit (waiting) of an unparsable Dockerfile: exit 1, BUILD FAILURE with the reason, also in the log object', async () => {
  const out = await gcloud(['builds', 'submit', `--config=${path.join(src, 'bad.yaml')}`, src]);
  assert.is(out.code, 1);
  assert.match(out.stderr, 'BUILD FAILURE: Build step failure: build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1: dockerfile parse error on line 2: unknown instruction: FROBNICATE');
  const id = out.stderr.match(/build ([0-9a-f-]{36}) completed with status "FAILURE"/)?.[1];
  assert.ok(id, out.stderr);
  const build = await finished(id!);
  const log = await gcloud(['storage', 'cat', `${build.logsBucket}/log-${id}.txt`]);
  assert.is(log.code, 0, log.stderr);
  assert.match(log.stdout, `starting build "${id}"`);
  assert.match(log.stdout, 'Step #0: dockerfile parse error on line 2: unknown instruction: FROBNICATE');
  assert.match(log.stdout, 'ERROR: build step 0 "gcr.io/cloud-builders/docker" failed');
  assert.not.ok([...(await imagesByDigest()).values()].flat().includes('bad'), 'a failed build pushes nothing');
});

test('a Dockerfile missing from the source fails the build (describe shows FAILURE and why)', async () => {
  const build = await finished(await submitAsync('missing.yaml'));
  assert.is(build.status, 'FAILURE');
  assert.match(build.failureInfo.detail, 'lstat /workspace/app/nope/Dockerfile: no such file or directory');
  const list = await gcloud(['builds', 'list', '--format=value(status)']);
  assert.is(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim().split('\n'), ['FAILURE', 'FAILURE', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
});

test('with Cloud Storage logging gcloud tails the log from https://storage.googleapis.com, trusting the sandbox CA', async () => {
  // The sandbox's gcloud environment names its CA (a machine may already set that variable, which would
  // override the configuration's core/custom_ca_certs_file).
  assert.is(sandbox.handle.gcloudEnv.CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, sandboxCerts(sandbox.dir).caFile);
  const out = await sandbox.gcloud(['builds', 'submit', `--config=${path.join(src, 'tailed.yaml')}`, src]);
  assert.is(out.code, 1, out.stderr);
  assert.not.match(out.stderr, 'CERTIFICATE_VERIFY_FAILED');
  assert.match(out.stdout, 'REMOTE BUILD OUTPUT');
  assert.match(out.stdout, 'Step #0: dockerfile parse error on line 2: unknown instruction: FROBNICATE');
  const tailed = (await sandbox.requests()).filter((r) => r.host === 'storage.googleapis.com' && r.method === 'GET');
  assert.ok(tailed.some((r) => r.status === 206), 'the log object was read over TLS with Range');
});

test.run();
