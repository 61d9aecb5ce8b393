// `node --import ./lib/loader/register.mjs lib/bin/task.ts`: TypeScript without tsx's start-up cost. `pnpm task`
// runs the compiled tree instead (task.mjs), and falls back to these hooks when the tree cannot be written.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
