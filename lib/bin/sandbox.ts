// `pnpm sandbox`: runs the sandbox in the foreground for a state folder and prints the `export` lines that
// point one's own gcloud at it. `pnpm task … --sandbox` for the same folder uses this running sandbox.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findRunningSandbox, removeSandboxInfo, startSandbox, writeSandboxInfo } from '../sandbox/index.js';
import { BLOB_DIR, STATE_FILE } from '../sandbox/state.js';

const USAGE = `Usage: pnpm sandbox [--port N] [--latency-scale X] [--seed N] [--reset]

Runs a local Google Cloud (the APIs gcp-tasks uses) until Ctrl-C, keeping its state in
$GCP_TASKS_SANDBOX_DIR or ./.sandbox. The printed export lines are what a user's machine has: CLOUDSDK_CONFIG
(a gcloud configuration logged in to the sandbox, whose endpoints reach it) and the project and region for
gcp-tasks. Paste them into a shell to use gcloud and \`pnpm task <names>\` against it, as against Google;
\`pnpm task <names> --sandbox\` uses it too.

  --port N             listen on 127.0.0.1:N (default: any free port)
  --latency-scale X    multiply simulated operation times (0 = instant; default 0.01, or SANDBOX_LATENCY_SCALE)
  --seed N             seed of ids and fault injection (default 1, or SANDBOX_SEED)
  --reset              forget every resource before starting
Faults: SANDBOX_FAULTS='{"transientRate":0.1}' or PUT /__sandbox/faults (see README).`;

function fail(message: string, code = 2): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

function number(name: string, raw: string | undefined, integer = false): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) fail(`--${name} must be a non-negative ${integer ? 'integer' : 'number'} (got "${raw}")`);
  return n;
}

/** A value safe to paste into a POSIX shell. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        'latency-scale': { type: 'string' },
        seed: { type: 'string' },
        reset: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = number('port', values.port, true);
  if (port !== undefined && port > 65535) fail('--port must be at most 65535');
  const stateDir = path.resolve(process.env.GCP_TASKS_SANDBOX_DIR || '.sandbox');

  const running = await findRunningSandbox(stateDir);
  if (running) fail(`a sandbox is already running for ${stateDir} (pid ${running.pid}, ${running.url}); stop it first or use another GCP_TASKS_SANDBOX_DIR`, 1);
  if (values.reset) {
    fs.rmSync(path.join(stateDir, STATE_FILE), { force: true });
    fs.rmSync(path.join(stateDir, BLOB_DIR), { recursive: true, force: true });
  }

  let handle;
  try {
    handle = await startSandbox({ stateDir, port, latencyScale: number('latency-scale', values['latency-scale']), seed: number('seed', values.seed, true) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    fail(e.code === 'EADDRINUSE' ? `port ${port} is already in use; choose another --port or omit it` : e.message, 1);
  }
  writeSandboxInfo(handle);

  const exports = { ...handle.gcloudEnv, GCP_PROJECT_ID: handle.project, GCP_REGION: handle.region };
  for (const [name, value] of Object.entries(exports)) process.stdout.write(`export ${name}=${shellQuote(value)}\n`);
  process.stderr.write(`Sandbox listening on ${handle.url} (project ${handle.project}, region ${handle.region}), state in ${stateDir}.\n`);
  process.stderr.write('Paste the export lines above into a shell to use gcloud and pnpm task against it. Ctrl-C stops it.\n');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    removeSandboxInfo(stateDir);
    await handle.stop();
    process.stderr.write(`Sandbox stopped (${signal}); state kept in ${stateDir}.\n`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();
