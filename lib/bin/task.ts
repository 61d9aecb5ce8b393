// Entry point of `pnpm task`: run from lib/loader's compiled program (task.cjs), or with its TypeScript hooks or tsx, so
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

// No top-level await: a compiled program is a CommonJS script (its code can then be cached by V8).
void main(process.argv.slice(2), gcpPlatform).then((code) => {
  // Exit explicitly: a task may leave a handle open (a socket, a timer); the run is over either way.
  // Wait for stdout to drain first so a piped --json summary is never cut short.
  process.stdout.write('', () => process.exit(code));
});
