import type { ApiModule } from '../types.js';

export const artifactregistry: ApiModule = { name: 'artifactregistry', routes: [] };
