import type { ApiModule } from '../types.js';

export const sql: ApiModule = { name: 'sql', routes: [] };
