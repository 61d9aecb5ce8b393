// `node --import ./lib/loader/register.mjs lib/bin/task.ts`: TypeScript without tsx's start-up cost.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
