import type { ApiModule } from '../types.js';

export const secretmanager: ApiModule = { name: 'secretmanager', routes: [] };
