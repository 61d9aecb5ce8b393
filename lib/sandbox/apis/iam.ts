import type { ApiModule } from '../types.js';

export const iam: ApiModule = { name: 'iam', routes: [] };
