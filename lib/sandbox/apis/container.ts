import type { ApiModule } from '../types.js';

export const container: ApiModule = { name: 'container', routes: [] };
