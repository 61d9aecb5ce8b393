// Entry point of `pnpm task` (run through tsx, so .ts configs load as plain imports).
import { main } from '../cli.js';

const code = await main(process.argv.slice(2));
// Exit explicitly: a task may leave a handle open (a socket, a timer); the run is over either way.
// Wait for stdout to drain first so a piped --json summary is never cut short.
process.stdout.write('', () => process.exit(code));
