import type { ApiModule } from '../types.js';

export const serviceusage: ApiModule = { name: 'serviceusage', routes: [] };
