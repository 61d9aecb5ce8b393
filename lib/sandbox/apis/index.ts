// Every API the sandbox serves. Order does not matter: routes are matched by method, host and path.
import type { ApiModule } from '../types.js';
import { serviceusage } from './serviceusage.js';
import { artifactregistry } from './artifactregistry.js';
import { storage } from './storage.js';
import { iam } from './iam.js';
import { projects } from './projects.js';
import { secretmanager } from './secretmanager.js';
import { container } from './container.js';
import { monitoring } from './monitoring.js';
import { sql } from './sql.js';
import { cloudbuild } from './cloudbuild.js';
import { run } from './run.js';

export const apiModules: ApiModule[] = [serviceusage, artifactregistry, storage, iam, projects, secretmanager, container, monitoring, sql, cloudbuild, run];
