import type { ApiModule } from '../types.js';

export const projects: ApiModule = { name: 'projects', routes: [] };
