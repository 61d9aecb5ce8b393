import type { ApiModule } from '../types.js';

export const run: ApiModule = { name: 'run', routes: [] };
