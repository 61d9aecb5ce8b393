import type { ApiModule } from '../types.js';

export const monitoring: ApiModule = { name: 'monitoring', routes: [] };
