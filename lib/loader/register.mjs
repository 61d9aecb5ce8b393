// `node --import ./lib/loader/register.mjs lib/bin/task.ts`: TypeScript without tsx's start-up cost. `pnpm task`
// runs the compiled program instead (task.cjs), and falls back to these hooks when no program can be written.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
