// `pnpm sandbox` standalone: prints the export lines, a gcloud using only those lines works, the CLI side
// (connectOrStartSandbox) finds it, a second one for the same folder is refused, SIGTERM removes sandbox.json,
// state survives a restart and --reset forgets it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { connectOrStartSandbox } from '../../lib/sandbox/index.js';
import { repoRoot } from '../helpers/cli.js';

const test = gcloudTests('pnpm sandbox standalone tests');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
const entry = path.join(repoRoot, 'lib', 'bin', 'sandbox.ts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-standalone-'));

interface Standalone {
  child: ChildProcess;
  exports: Record<string, string>;
  stdout: string;
  exited: Promise<{ code: number | null; stderr: string }>;
}

/** Starts `pnpm sandbox` (the same entry point) and waits, with a bound, for its export lines. */
function startStandalone(args: string[] = []): Promise<Standalone> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [entry, ...args], { cwd: repoRoot, env: { ...process.env, GCP_TASKS_SANDBOX_DIR: dir, SANDBOX_LATENCY_SCALE: '0' } });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<{ code: number | null; stderr: string }>((done) => child.on('close', (code) => done({ code, stderr })));
    const timer = setTimeout(() => reject(new Error(`pnpm sandbox did not start\nstdout: ${stdout}\nstderr: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('Sandbox listening')) {
        clearTimeout(timer);
        const exports: Record<string, string> = {};
        for (const line of stdout.trim().split('\n')) {
          const m = line.match(/^export ([A-Z_]+)=(.*)$/);
          assert.ok(m, `an export line: ${line}`);
          exports[m![1]!] = m![2]!.replace(/^'(.*)'$/, '$1');
        }
        resolve({ child, exports, stdout, exited });
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!stderr.includes('Sandbox listening')) resolve({ child, exports: {}, stdout, exited: Promise.resolve({ code, stderr }) });
    });
  });
}

/** gcloud with nothing but the printed lines (and PATH/HOME) in its environment, as a user's shell would have. */
function userGcloud(exports: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('gcloud', args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...exports } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('prints export lines a plain gcloud can use; the CLI finds it; a second one is refused; SIGTERM cleans up', async () => {
  const sb = await startStandalone(['--seed', '5']);
  try {
    // What a user's machine has: a gcloud configuration folder (logged in, endpoints as its properties), a project, a region.
    assert.is(sb.exports.GCP_PROJECT_ID, 'digitwin-sandbox');
    assert.is(sb.exports.GCP_REGION, 'us-central1');
    assert.ok(sb.exports.CLOUDSDK_CONFIG && fs.existsSync(sb.exports.CLOUDSDK_CONFIG), 'CLOUDSDK_CONFIG names an existing folder');
    const list = await userGcloud(sb.exports, ['services', 'list', '--enabled', '--format=value(config.name)']);
    assert.is(list.code, 0, list.stderr);
    assert.match(list.stdout, 'storage.googleapis.com');
    const created = await userGcloud(sb.exports, ['storage', 'buckets', 'create', 'gs://gt-standalone-kept', '--location=us-central1']);
    assert.is(created.code, 0, created.stderr);

    const info = JSON.parse(fs.readFileSync(path.join(dir, 'sandbox.json'), 'utf8'));
    assert.ok(Number.isInteger(info.port), 'sandbox.json names the port');
    const found = await connectOrStartSandbox({ stateDir: dir });
    assert.is(found.owned, false);
    assert.is(found.port, info.port);

    const second = await startStandalone();
    const { code, stderr } = await second.exited;
    assert.is(code, 1);
    assert.match(stderr, `a sandbox is already running for ${dir}`);
  } finally {
    sb.child.kill('SIGTERM');
  }
  const { code } = await sb.exited;
  assert.is(code, 0);
  assert.not.ok(fs.existsSync(path.join(dir, 'sandbox.json')), 'sandbox.json removed on SIGTERM');
});

test('state survives a restart; --reset forgets it', async () => {
  const again = await startStandalone();
  try {
    const d = await userGcloud(again.exports, ['storage', 'buckets', 'describe', 'gs://gt-standalone-kept', '--format=value(name)']);
    assert.is(d.code, 0, d.stderr);
    assert.is(d.stdout.trim(), 'gt-standalone-kept');
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
  const reset = await startStandalone(['--reset']);
  try {
    const gone = await userGcloud(reset.exports, ['storage', 'buckets', 'describe', 'gs://gt-standalone-kept', '--format=value(name)']);
    assert.is.not(gone.code, 0);
    assert.match(gone.stderr, /not found|404/);
  } finally {
    reset.child.kill('SIGINT');
    assert.is((await reset.exited).code, 0);
  }
});

test('a bad flag is a usage error', async () => {
  const bad = await startStandalone(['--port', 'abc']);
  const { code, stderr } = await bad.exited;
  assert.is(code, 2);
  assert.match(stderr, '--port must be a non-negative integer');
});

test.run();
