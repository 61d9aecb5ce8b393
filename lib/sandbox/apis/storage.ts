import type { ApiModule } from '../types.js';

export const storage: ApiModule = { name: 'storage', routes: [] };
