// Entry point of `pnpm task`: run from lib/loader's compiled tree (task.mjs), or with its TypeScript hooks or tsx, so
// a .ts config loads as a plain import.
import './zod-jitless.js';
import { main } from '../engine/cli.js';
import { redact } from '../engine/redact.js';
import { gcpPlatform } from '../gcp/platform.js';

// A task that forgets to await a promise must not kill the whole run (and every other task) mid-flight.
process.on('unhandledRejection', (reason) => {
  const message = reason instanceof Error ? reason.message : String(reason);
  process.stderr.write(`Warning: a task left a promise rejected without handling it: ${redact(message)}\n`);
});

const code = await main(process.argv.slice(2), gcpPlatform);
// Exit explicitly: a task may leave a handle open (a socket, a timer); the run is over either way.
// Wait for stdout to drain first so a piped --json summary is never cut short.
process.stdout.write('', () => process.exit(code));
