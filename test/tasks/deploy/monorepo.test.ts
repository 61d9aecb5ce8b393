// The grown sample app through the CLI, the real gcloud and the sandbox: per-file Dockerfiles, a Python
// service with its own build context and Cloud Run settings, a ${SECRET_*} placeholder that must name an
// existing secret before anything is built, uploads that never carry a credential (the uploaded archives
// are listed), a fingerprint that ignores tests and READMEs and follows dependencies, a failed build that
// keeps the last good one, and preflight verdicts of every service in one refusal, in dry-run too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { deployWorld, secretsOf, show, type DeployWorld } from './sandbox.js';

const test = gcloudTests('monorepo tests');

let w: DeployWorld;
const keys = ['api-gateway', 'websocket-server', 'face-processing-service', 'voice-cloning-service'];

test.before(async () => {
  w = await deployWorld({ snapshot: 'setup', setup: [] });
  // Credentials and clutter a careless checkout holds, each where a COPY of its folder would reach it.
  const plant = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(w.app.file(rel)), { recursive: true });
    w.app.write(rel, text);
  };
  plant('apps/api-gateway/src/dev-cert.pem', '-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n');
  plant('services/voice-cloning-service/app/service-account.json', JSON.stringify({ type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----' }));
  plant('services/voice-cloning-service/.venv/lib/python3.11/site.py', 'x'.repeat(200_000));
  plant('tmp/prod-dump.sql', 'COPY users FROM stdin;\n');
  plant('apps/api-gateway/.env.local', 'JWT_SECRET=local\n');
  fs.appendFileSync(w.envFilePath('development'), 'OPENAI_API_KEY=${SECRET_OPENAI_API_KEY}\n');
});
test.after(async () => {
  await w?.close();
});

const builds = async () => w.json<{ id: string; tags?: string[]; source?: { storageSource?: { bucket: string; object: string } } }[]>(['builds', 'list']);

test('a ${SECRET_*} placeholder naming no secret stops the deploy before any build, naming it and the command to create it', async () => {
  const r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 1, show(r));
  assert.match(r.stderr, /openai-api-key-dev \(for OPENAI_API_KEY\)/);
  assert.match(r.stderr, /gcloud secrets create openai-api-key-dev --replication-policy=automatic --data-file=- --project=/);
  assert.match(r.stderr, /SECRET_VALUE_OPENAI_API_KEY/);
  const statuses = w.statuses(r);
  for (const key of keys) assert.is(statuses[`build:${key}`], 'skipped-dep-failed', key);
  assert.equal(await builds(), [], 'nothing was built');
});

test('deploy:all deploys the four services, the Python one included, with their settings read back through gcloud', async () => {
  const r = await w.run(['deploy:all', '--json'], { SECRET_VALUE_OPENAI_API_KEY: 'sk-test-0123456789abcdef' });
  assert.is(r.code, 0, show(r));
  assert.not.ok(`${r.stdout}${r.stderr}`.includes('sk-test-0123456789abcdef'), 'the supplied value is never printed');
  const statuses = w.statuses(r);
  for (const key of keys) assert.is(statuses[`deploy:${key}`], 'ran', key);
  const describe = (key: string) => w.service(key);

  const voice = await describe('voice-cloning-service');
  const voiceTemplate = voice.spec.template;
  assert.equal(voiceTemplate.spec.containers[0].resources.limits, { cpu: '4', memory: '16Gi' });
  assert.is(voiceTemplate.spec.timeoutSeconds, 600);
  assert.is(voiceTemplate.spec.containerConcurrency, 4);
  assert.is(secretsOf(voice).OPENAI_API_KEY, 'openai-api-key-dev:latest', 'the placeholder is a Secret Manager mount');
  assert.is(voiceTemplate.spec.containers[0].env.find((e: { name: string }) => e.name === 'OPENAI_API_KEY').value, undefined, 'never a plain value');

  const ws = (await describe('websocket-server')).spec.template;
  assert.is(ws.metadata.annotations['autoscaling.knative.dev/minScale'], '1');
  // gcloud writes Python booleans (False/True); read back as the user sees them, whatever the case.
  assert.match(ws.metadata.annotations['run.googleapis.com/cpu-throttling'], /^false$/i);
  assert.match(ws.metadata.annotations['run.googleapis.com/sessionAffinity'], /^true$/i);
  assert.is(ws.spec.containerConcurrency, 250);
  const gateway = (await describe('api-gateway')).spec.template;
  assert.not.match(gateway.metadata.annotations['run.googleapis.com/cpu-throttling'] ?? 'true', /^false$/i, 'CPU throttled by default');
});

/** The files of every uploaded source archive, by service (the build's tags name it). */
async function uploadedArchives(): Promise<Map<string, string[]>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-archives-'));
  const out = new Map<string, string[]>();
  try {
    for (const build of await builds()) {
      const source = build.source?.storageSource;
      const key = keys.find((k) => build.tags?.includes(k));
      if (!source || !key) continue;
      const local = path.join(dir, `${build.id}.tgz`);
      const r = await w.gcloud(['storage', 'cp', `gs://${source.bucket}/${source.object}`, local]);
      assert.is(r.code, 0, r.stderr);
      out.set(key, [...(out.get(key) ?? []), ...(await tarNames(fs.readFileSync(local)))]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function tarNames(data: Buffer): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      if (header.type === 'file') names.push(header.name.replace(/^\.\//, ''));
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    extract.end(gunzipSync(data));
  });
  return names;
}

test('no uploaded archive holds a credential-shaped file; each holds what its Dockerfile reaches; sizes are printed and in --json', async () => {
  const archives = await uploadedArchives();
  assert.equal([...archives.keys()].sort(), [...keys].sort());
  const credential = /\.(pem|key|p12)$|(^|\/)\.env(\.(?!example$)[^/]*)?$|(^|\/)(\.venv|node_modules|tmp)\/|\.sql$(?<!migration\.sql)|service-account\.json$/;
  for (const [key, names] of archives) {
    assert.equal(names.filter((n) => credential.test(n)), [], key);
  }
  const gateway = archives.get('api-gateway')!;
  assert.ok(gateway.includes('scripts/healthcheck.sh') && gateway.includes('packages/config/src/index.js'));
  assert.not.ok(gateway.some((n) => n.includes('__tests__') || n === 'README.md' || n.startsWith('apps/websocket-server') || n === 'scripts/seed-dev.mjs'), gateway.join('\n'));
  assert.equal(archives.get('voice-cloning-service')!.sort(), ['.dockerignore', 'Dockerfile.cpu', 'app/__init__.py', 'app/main.py', 'requirements.txt']);

  const r = await w.run(['build:voice-cloning-service', '--force', '--json']);
  assert.is(r.code, 0, show(r));
  assert.match(r.stderr, /upload of voice-cloning-service: 5 files, \d+ B from services\/voice-cloning-service/);
  assert.match(r.stderr, /never uploaded \(credentials and local clutter\): app\/service-account\.json/);
  const task = JSON.parse(r.stdout).tasks.find((t: { name: string }) => t.name === 'build:voice-cloning-service');
  assert.is(task.outputs.uploadFiles, 5);
  assert.ok(task.outputs.uploadBytes > 0);
});

test('a test file or README change rebuilds nothing; a dependency source change rebuilds exactly its dependents', async () => {
  w.app.append('apps/api-gateway/src/__tests__/requireFields.test.js', '// one more case later\n');
  w.app.append('README.md', '\nMore words.\n');
  w.app.append('services/voice-cloning-service/tests/test_main.py', '# more\n');
  let r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  for (const key of keys) assert.is(w.statuses(r)[`build:${key}`], 'cached', key);

  w.app.append('packages/config/src/index.js', '// a change in @clone/config\n');
  r = await w.run(['deploy:all', '--json']);
  assert.is(r.code, 0, show(r));
  const statuses = w.statuses(r);
  assert.equal(keys.filter((k) => statuses[`build:${k}`] === 'ran').sort(), ['api-gateway', 'face-processing-service']);
});

test('after a failed build, putting the files back is cached (no rebuild, no redeploy)', async () => {
  const file = 'services/face-processing-service/Dockerfile';
  const good = w.app.read(file);
  w.app.write(file, good.replace('USER node', 'RUN exit 1\nUSER node'));
  let r = await w.run(['deploy:face-processing-service', '--json']);
  assert.is(r.code, 1, show(r));
  assert.is(w.statuses(r)['build:face-processing-service'], 'failed');
  w.app.write(file, good);
  r = await w.run(['deploy:face-processing-service', '--json']);
  assert.is(r.code, 0, show(r));
  assert.is(w.statuses(r)['build:face-processing-service'], 'cached');
  assert.is(w.statuses(r)['deploy:face-processing-service'], 'cached');
});

test('every planned service\'s Dockerfile problems are shown at once, before any upload, in dry-run too', async () => {
  const gateway = w.app.read('apps/api-gateway/Dockerfile');
  const voice = w.app.read('services/voice-cloning-service/Dockerfile.cpu');
  try {
    w.app.write('apps/api-gateway/Dockerfile', gateway.replace('COPY packages/config/src ./packages/config/src\n', ''));
    w.app.write('services/voice-cloning-service/Dockerfile.cpu', voice.replace('COPY requirements.txt ./', 'COPY requirement.txt ./'));
    const before = (await builds()).length;
    for (const args of [['deploy:all'], ['deploy:all', '--dry-run']]) {
      const r = await w.run(args);
      assert.is(r.code, 1, show(r));
      assert.match(r.stderr, /apps\/api-gateway\/Dockerfile:\d+: its sources \(packages\/config\/src\) of @clone\/config/);
      assert.match(r.stderr, /services\/voice-cloning-service\/Dockerfile\.cpu:\d+: COPY requirement\.txt: there is no such file/);
    }
    assert.is((await builds()).length, before, 'nothing built');
  } finally {
    w.app.write('apps/api-gateway/Dockerfile', gateway);
    w.app.write('services/voice-cloning-service/Dockerfile.cpu', voice);
  }
  const ok = await w.run(['deploy:all', '--dry-run']);
  assert.is(ok.code, 0, show(ok));
  assert.match(ok.stdout, /preflight checks of every planned task passed/);
});

test.run();
