// A set-up project without a cold `setup` per test file: the sandbox folder after `setup` (and after
// `setup` + `deploy:all`) is made once per suite run and each test file starts its sandbox on a copy.
// The folder holds everything of the fake cloud and of the tool's run: state.json, blobs, the embedded
// Cloud SQL data directories, the env files and the cache records (task-state/). A copy gets a port of its
// own (the old one is rewritten wherever the folder's text names it: Cloud Run URLs in the env files) and
// a fresh gcloud config; its Cloud SQL servers start on their recorded 127.0.0.x, or move to a free one.
// Under test/run.ts the snapshots are shared through a socket the harness answers (TEST_SNAPSHOTS): the
// first file asking for one has it built and later ones reuse it. A file run alone builds its own.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { removeSandboxInfo, startSandbox, writeSandboxInfo } from '../../lib/sandbox/index.js';
import { runCli } from './cli.js';

export type SnapshotKind = 'setup' | 'deploy';

/** The tool's runs that make each snapshot, after the one it starts from. */
const STEPS: Record<SnapshotKind, { from?: SnapshotKind; args: string[] }> = {
  setup: { args: ['setup'] },
  deploy: { from: 'setup', args: ['deploy:all'] },
};

/** What a snapshot folder records about itself. */
const META = 'snapshot.json';
/** Written by the harness per run, read by test processes. */
export const SNAPSHOT_SOCKET_ENV = 'TEST_SNAPSHOTS';

/** The environment of a machine without any GCP setting, so only the sandbox and the test decide. */
export function cleanCloudEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) {
    if (/^(GCP_|GOOGLE_|CLOUDSDK_|DATABASE_|GCS_BUCKET_|SECRET_VALUE_|NODE_ENV$|LOG_|CORS_|ENABLE_|CACHE_TTL_)/.test(key)) env[key] = undefined;
  }
  return { ...env, ...extra };
}

/** A free loopback port (asked of the system, then released for the sandbox to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function textFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    // Blobs and database files are data, not addresses.
    if (entry.isDirectory()) {
      if (!['blobs', 'sql', 'tls'].includes(entry.name)) out.push(...textFiles(full));
    } else if (/\.json$|^\.env|\.log$/.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * Copies a snapshot folder into `target` for a sandbox to be started there on `port`: the old port is
 * replaced wherever the text names it, and gcloud's config (absolute paths, logs) is left to be made anew.
 */
export function copySnapshotTo(snapshot: string, target: string, port: number): void {
  const { port: old } = JSON.parse(fs.readFileSync(path.join(snapshot, META), 'utf8')) as { port: number };
  fs.cpSync(snapshot, target, { recursive: true });
  fs.rmSync(path.join(target, META));
  const pattern = new RegExp(`(127\\.0\\.0\\.1|localhost|\\.sandbox):${old}\\b`, 'g');
  for (const file of textFiles(target)) {
    const text = fs.readFileSync(file, 'utf8');
    const moved = text.replace(pattern, `$1:${port}`);
    if (moved !== text) fs.writeFileSync(file, moved);
  }
  fs.writeFileSync(path.join(target, 'last-port'), String(port));
}

/** Makes the snapshot `kind` in `dir` (which must not exist), from the snapshot it builds on if any. */
export async function buildSnapshot(kind: SnapshotKind, dir: string, from?: string): Promise<void> {
  if (from) copySnapshotTo(from, dir, await freePort());
  const sandbox = await startSandbox({ stateDir: dir, latencyScale: 0 });
  writeSandboxInfo(sandbox);
  try {
    const r = await runCli(['--sandbox', ...STEPS[kind].args], { env: cleanCloudEnv({ GCP_TASKS_SANDBOX_DIR: dir }), timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`snapshot "${kind}": pnpm task ${STEPS[kind].args.join(' ')} failed (exit ${r.code})\n${r.stdout}\n${r.stderr}`);
  } finally {
    await sandbox.stop();
  }
  removeSandboxInfo(dir);
  fs.rmSync(path.join(dir, 'gcloud-config'), { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, META), JSON.stringify({ kind, port: sandbox.port }));
}

/** Builds `kind` (and what it starts from) under `root`, once per process: the harness's and a lone file's way. */
export function snapshotBuilder(root: string): (kind: SnapshotKind) => Promise<string> {
  const built = new Map<SnapshotKind, Promise<string>>();
  const get = (kind: SnapshotKind): Promise<string> => {
    if (!built.has(kind)) {
      built.set(kind, (async () => {
        const from = STEPS[kind].from ? await get(STEPS[kind].from!) : undefined;
        const dir = path.join(root, kind);
        const started = Date.now();
        await buildSnapshot(kind, dir, from);
        console.log(`  (snapshot "${kind}" built in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return dir;
      })());
    }
    return built.get(kind)!;
  };
  return get;
}

let ownBuilder: ((kind: SnapshotKind) => Promise<string>) | undefined;

/** Asks the harness for a snapshot's folder over its socket; the answer comes once it is built. */
function askHarness(socket: string, kind: SnapshotKind): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const conn = net.connect(socket, () => conn.end(`${kind}\n`));
    conn.setEncoding('utf8');
    conn.on('data', (d) => (answer += d));
    conn.once('error', reject);
    conn.once('close', () => {
      const [status, ...rest] = answer.split('\n');
      if (status === 'ok') resolve(rest.join('\n').trim());
      else reject(new Error(`the test harness could not build the "${kind}" snapshot:\n${rest.join('\n')}`));
    });
  });
}

/** The folder of snapshot `kind`: the suite's, or one this process builds (and removes when it exits). */
export function snapshotFolder(kind: SnapshotKind): Promise<string> {
  const socket = process.env[SNAPSHOT_SOCKET_ENV];
  if (socket) return askHarness(socket, kind);
  if (!ownBuilder) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-snapshots-'));
    process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
    ownBuilder = snapshotBuilder(root);
  }
  return ownBuilder(kind);
}

/** A new sandbox folder holding a copy of snapshot `kind`, and the port its sandbox must listen on. */
export async function snapshotCopy(kind: SnapshotKind): Promise<{ dir: string; port: number }> {
  const from = await snapshotFolder(kind);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-sandbox-'));
  fs.rmSync(dir, { recursive: true });
  const port = await freePort();
  copySnapshotTo(from, dir, port);
  return { dir, port };
}

/** The harness's side of the socket: answers `ok\n<folder>` once the snapshot is built, or `error\n<why>`. */
export function serveSnapshots(socket: string, build: (kind: SnapshotKind) => Promise<string>): net.Server {
  // Half-open: the asking file has finished writing (its end) long before the answer is ready.
  const server = net.createServer({ allowHalfOpen: true }, (conn) => {
    let asked = '';
    conn.setEncoding('utf8');
    conn.on('data', (d) => (asked += d));
    conn.on('error', () => conn.destroy());
    conn.on('end', () => {
      const kind = asked.trim() as SnapshotKind;
      if (!(kind in STEPS)) return void conn.end(`error\nno snapshot named "${kind}"`);
      build(kind).then(
        (dir) => conn.end(`ok\n${dir}`),
        (err: Error) => conn.end(`error\n${err.message}`),
      );
    });
  });
  server.listen(socket);
  return server;
}
