// The background process behind `db:local`: the embedded PostgreSQL (PGlite + pgvector over the wire
// protocol) on the given loopback address. Started detached by lib/postgres/local.ts with stdout/stderr
// going to a log file. It announces itself by writing the state file once it listens, and removes the
// state file when it stops (SIGTERM/SIGINT from db:stop).
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../postgres/embedded.js';
import { localDbUrl, type LocalDbState } from '../postgres/local.js';

// The services, psql and a migration tool connect at the same time.
const MAX_CONNECTIONS = 32;

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    user: { type: 'string' },
    database: { type: 'string' },
    'state-file': { type: 'string' },
    'log-file': { type: 'string' },
  },
});
const host = values.host ?? '127.0.0.1';
const port = Number(values.port);
const dataDir = values['data-dir'];
const stateFile = values['state-file'];
const user = values.user ?? 'postgres';
const database = values.database ?? 'postgres';
if (!Number.isInteger(port) || !dataDir || !stateFile) {
  console.error('usage: db-local-server --host=H --port=P --data-dir=D --state-file=F [--user=U] [--database=DB] [--log-file=L]');
  process.exit(2);
}

const stamp = () => new Date().toISOString();
console.log(`${stamp()} starting PostgreSQL (PGlite + pgvector) on ${host}:${port}, data in ${dataDir}`);
const server = await startEmbeddedPostgres({ host, port, dataDir, user, database, maxConnections: MAX_CONNECTIONS });

const state: LocalDbState = {
  pid: process.pid,
  host,
  port,
  url: localDbUrl({ host, port, user, database }),
  dataDir,
  logFile: values['log-file'] ?? '',
  startedAt: stamp(),
};
fs.mkdirSync(path.dirname(stateFile), { recursive: true });
writeFileAtomic.sync(stateFile, JSON.stringify(state, null, 2) + '\n');
console.log(`${stamp()} ready: ${state.url}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${stamp()} ${signal}: stopping`);
  try {
    await server.stop();
  } finally {
    // Only our own record: a newer server may have replaced it.
    try {
      if (JSON.parse(fs.readFileSync(stateFile!, 'utf8')).pid === process.pid) fs.rmSync(stateFile!);
    } catch {
      // already gone
    }
    console.log(`${stamp()} stopped`);
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
