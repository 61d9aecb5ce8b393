// `pnpm test`: runs every test/**/*.test.ts in its own process, two at a time (a 2-core machine), prints
// each file's result, and ends with exactly `N passed, N failed, N skipped` counting uvu test cases.
// A test skipped for want of a program (test/helpers/skip.ts) fails the run when that program is installed:
// on a machine with gcloud (CI) every cloud test must really run.
// Set-up projects (sandbox folders after `setup`, and after `deploy:all`) are made once per run and copied by
// the files that need one (test/helpers/snapshot.ts): this process builds them when the first file asks, or
// at once when a file to run names one.
// Usage: tsx test/run.ts [--reliability] [file-or-dir...]. test/reliability/ runs only with --reliability
// (or when named explicitly). TEST_CONCURRENCY overrides the 2; TEST_FILE_TIMEOUT_S the 15-minute cap per file.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installed, SKIP_LINE } from './helpers/skip.js';
import { serveSnapshots, snapshotBuilder, SNAPSHOT_SOCKET_ENV, type SnapshotKind } from './helpers/snapshot.js';

/** This run's folder: the snapshots and the socket test files ask for them on. */
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-test-run-'));
const snapshotSocket = path.join(runDir, 'snapshots.sock');
const removeRunDir = () => fs.rmSync(runDir, { recursive: true, force: true });

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(repo, 'node_modules', '.bin', 'tsx');
const concurrency = Math.max(1, Number(process.env.TEST_CONCURRENCY) || 2);
const fileTimeoutMs = (Number(process.env.TEST_FILE_TIMEOUT_S) || 900) * 1000;

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  ms: number;
  output: string;
  code: number | null;
}

function findTests(dir: string, includeReliability: boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'fixtures') continue;
      if (!includeReliability && path.relative(path.join(repo, 'test'), full) === 'reliability') continue;
      out.push(...findTests(full, includeReliability));
    } else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** uvu's closing block: `Total: N` (skipped tests not included), `Passed: N`, `Skipped: N` (one per process). */
function parseCounts(output: string): { total: number; passed: number; skipped: number } | null {
  const text = stripAnsi(output);
  const num = (label: string) => {
    const all = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))];
    return all.length ? Number(all[all.length - 1]![1]) : null;
  };
  const total = num('Total');
  const passed = num('Passed');
  if (total === null || passed === null) return null;
  return { total, passed, skipped: num('Skipped') ?? 0 };
}

/** Process groups of the running test files: Ctrl-C (or SIGTERM) on the harness ends them and all they started. */
const running = new Set<number>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const pid of running) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    console.log(`\ninterrupted (${signal}): stopped ${running.size} running test file(s)`);
    removeRunDir();
    process.exit(130);
  });
}

/** Programs a file skipped tests for (its SKIPPED lines) that are installed after all. */
function skipsOfInstalled(output: string): string[] {
  const programs = new Set([...stripAnsi(output).matchAll(SKIP_LINE)].map((m) => m[1]!));
  return [...programs].filter((p) => installed(p));
}

function runFile(file: string): Promise<FileResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    // Each file gets its own per-user state folder: the run lock is per user and project + environment, and
    // files running side by side are different "users" here, not rivals for one lock.
    const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-test-state-'));
    const child = spawn(tsx, [file], {
      cwd: repo,
      env: { ...process.env, FORCE_COLOR: '0', XDG_STATE_HOME: stateHome, [SNAPSHOT_SOCKET_ENV]: snapshotSocket },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.on('close', () => fs.rmSync(stateHome, { recursive: true, force: true }));
    if (child.pid) running.add(child.pid);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[test/run.ts] killed after ${fileTimeoutMs / 1000} s\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child.pid!);
      const counts = parseCounts(output);
      // A file that crashed before uvu's summary (or exited non-zero with all passing) counts one failure.
      let passed = counts?.passed ?? 0;
      let failed = counts ? counts.total - counts.passed : 1;
      if (code !== 0 && failed === 0) failed = 1;
      if (counts && passed > counts.total) passed = counts.total;
      const skipped = counts?.skipped ?? 0;
      const wrongSkips = skipsOfInstalled(output);
      if (wrongSkips.length) {
        failed += skipped || 1;
        output += `\n[test/run.ts] tests were skipped for want of ${wrongSkips.join(', ')}, which is installed: they must run here\n`;
      }
      resolve({ file, passed, failed, skipped, ms: performance.now() - started, output, code });
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const reliability = args.includes('--reliability');
  const targets = args.filter((a) => a !== '--reliability');
  const files = targets.length
    ? targets.flatMap((t) => findTests(path.resolve(t), true))
    : findTests(path.join(repo, 'test'), reliability);
  if (!files.length) {
    console.log('No test files found.');
    console.log('0 passed, 0 failed, 0 skipped');
    return 1;
  }
  const snapshot = snapshotBuilder(runDir);
  const snapshots = serveSnapshots(snapshotSocket, snapshot);
  // Snapshots the files name are started now, so they are ready when those files get their turn.
  const named = new Set(files.flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/snapshot: '(setup|deploy)'/g)].map((m) => m[1] as SnapshotKind)));
  const early = [...named].map((kind) => snapshot(kind).catch(() => {})); // a failure is reported to the file that asks
  const started = performance.now();
  const results: FileResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      const r = await runFile(file);
      results.push(r);
      const rel = path.relative(repo, r.file);
      const skippedNote = /SKIPPED/.test(r.output) ? ` — ${stripAnsi(r.output).match(/SKIPPED[^\n]*/)![0]}` : '';
      const mark = r.failed ? '✖' : '✔';
      console.log(`${mark} ${rel}  ${r.passed} passed${r.failed ? `, ${r.failed} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''} (${(r.ms / 1000).toFixed(1)} s)${skippedNote}`);
      if (r.failed) console.log(stripAnsi(r.output).replace(/^/gm, '    '));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  await Promise.all(early); // a build no file waited for (its files crashed first) still owns a sandbox
  snapshots.close();
  console.log(`${files.length} files in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed ? 1 : 0;
}

process.exitCode = await main().finally(removeRunDir);
