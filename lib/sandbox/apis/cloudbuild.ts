import type { ApiModule } from '../types.js';

export const cloudbuild: ApiModule = { name: 'cloudbuild', routes: [] };
