// DigiTwin Live's Google Cloud infrastructure as typed data, and the tasks that manage it.
// Every resource name, role, tier, rule and price lives here once; tasks read the resolved form (ctx.infra).
// Names: `{env}` is the environment; every other name gets the environment's suffix (production: none,
// development: `-dev`), so two environments sharing one project never touch each other's resources.
import { defineConfig, defineInfra } from './lib/index.js';
import { gcpTasks, gcpEnvSchema } from './tasks/index.js';
import { sandboxVars } from './tasks/shared/env-schema.js';

const commonServiceEnv = [
  'NODE_ENV', 'GCP_PROJECT_ID', 'GCP_REGION',
  'DATABASE_NAME', 'DATABASE_USER', 'DATABASE_SSL', 'DATABASE_POOL_MIN', 'DATABASE_POOL_MAX', 'CLOUD_SQL_CONNECTION_NAME',
  'GCS_BUCKET_VOICE_MODELS', 'GCS_BUCKET_FACE_MODELS', 'GCS_BUCKET_DOCUMENTS', 'GCS_BUCKET_UPLOADS',
  'ENABLE_CACHING', 'CACHE_TTL_SHORT', 'CACHE_TTL_MEDIUM', 'CACHE_TTL_LONG',
  'LOG_LEVEL', 'LOG_FORMAT', 'CORS_ORIGIN', 'ENABLE_API_DOCS', 'ENABLE_DEBUG_ENDPOINTS',
];

export const infra = defineInfra({
  app: 'digitwinlive',
  managedBy: 'gcp-tasks',
  appRoot: './sample-app',
  environments: {
    development: { suffix: '-dev' },
    production: { suffix: '' },
  },
  apis: [
    'compute.googleapis.com', 'sqladmin.googleapis.com', 'storage.googleapis.com', 'storage-component.googleapis.com',
    'run.googleapis.com', 'secretmanager.googleapis.com', 'artifactregistry.googleapis.com', 'cloudbuild.googleapis.com',
    'iam.googleapis.com', 'cloudresourcemanager.googleapis.com',
  ],
  registry: { name: 'digitwinlive', format: 'docker' },
  buckets: [
    { key: 'voiceModels', name: 'clone-voice-models-{env}', envVar: 'GCS_BUCKET_VOICE_MODELS', lifecycle: [{ prefix: 'temp/', ageDays: 90 }] },
    { key: 'faceModels', name: 'clone-face-models-{env}', envVar: 'GCS_BUCKET_FACE_MODELS', lifecycle: [{ prefix: 'temp/', ageDays: 90 }] },
    { key: 'documents', name: 'clone-documents-{env}', envVar: 'GCS_BUCKET_DOCUMENTS', lifecycle: [{ prefix: 'temp/', ageDays: 90 }] },
    {
      key: 'uploads', name: 'clone-uploads-{env}', envVar: 'GCS_BUCKET_UPLOADS',
      lifecycle: [{ prefix: 'temp/', ageDays: 30 }, { prefix: 'uploads/', ageDays: 90 }],
    },
  ],
  sql: {
    instance: 'digitwinlive-db',
    database: 'digitwinlive-db',
    user: 'postgres',
    databaseVersion: 'POSTGRES_15',
    tier: { development: 'db-f1-micro', production: 'db-custom-1-3840' },
    storageType: 'SSD',
    storageSizeGb: 10,
    storageAutoIncrease: true,
    backupStartTime: '03:00',
    maintenanceWindow: { day: 'SUN', hour: 4 },
    maxConnections: { development: 50, production: 100 },
    availabilityType: { development: 'ZONAL', production: 'REGIONAL' },
    passwordSecret: 'database-password',
  },
  serviceAccount: {
    name: 'digitwinlive-sa',
    displayName: 'DigiTwin Live services',
    roles: [
      'roles/cloudsql.client', 'roles/storage.objectAdmin', 'roles/secretmanager.secretAccessor', 'roles/run.invoker',
      'roles/artifactregistry.reader', 'roles/logging.logWriter',
    ],
  },
  secrets: [
    { name: 'jwt-secret', envVar: 'JWT_SECRET', generate: 'random-base64-48' },
    { name: 'refresh-secret', envVar: 'REFRESH_SECRET', generate: 'random-base64-48' },
    { name: 'database-password', envVar: 'DATABASE_PASSWORD', generate: 'random-password-32' },
  ],
  services: [
    {
      name: 'api-gateway', dockerfile: 'apps/api-gateway/Dockerfile', packageDir: 'apps/api-gateway',
      port: 8080, memory: '512Mi', cpu: '1', minInstances: 0, maxInstances: 10, timeoutSeconds: 300,
      needs: { database: true, storage: true, secrets: true }, public: true,
      urlEnvVar: 'API_GATEWAY_URL', env: commonServiceEnv,
    },
    {
      // Websockets: one warm instance, CPU kept between messages (as the old deploy script ran it).
      name: 'websocket-server', dockerfile: 'apps/websocket-server/Dockerfile', packageDir: 'apps/websocket-server',
      port: 8080, memory: '512Mi', cpu: '1', minInstances: 1, maxInstances: 10, timeoutSeconds: 3600, sessionAffinity: true,
      cpuThrottling: false, concurrency: 250,
      needs: { database: true, storage: false, secrets: true }, public: true,
      urlEnvVar: 'WEBSOCKET_URL', urlScheme: 'wss', env: commonServiceEnv,
    },
    {
      name: 'face-processing-service', dockerfile: 'services/face-processing-service/Dockerfile', packageDir: 'services/face-processing-service',
      port: 8080, memory: '512Mi', cpu: '1', minInstances: 0, maxInstances: 10, timeoutSeconds: 300,
      needs: { database: false, storage: true, secrets: false }, public: true,
      urlEnvVar: 'FACE_PROCESSING_URL', env: commonServiceEnv,
    },
    {
      // Python, not a workspace package: built from its own folder with its CPU Dockerfile.
      name: 'voice-cloning-service', context: 'services/voice-cloning-service', dockerfile: 'services/voice-cloning-service/Dockerfile.cpu',
      workspacePackage: false,
      port: 8080, memory: '16Gi', cpu: '4', minInstances: 0, maxInstances: 3, timeoutSeconds: 600, concurrency: 4,
      needs: { database: false, storage: true, secrets: false }, public: true,
      urlEnvVar: 'VOICE_CLONING_URL', env: ['GCP_PROJECT_ID', 'GCP_REGION', 'GCS_BUCKET_VOICE_MODELS', 'LOG_LEVEL', 'OPENAI_API_KEY', 'GROQ_API_KEY'],
    },
  ],
  localDb: { host: '127.0.0.1', port: 5432, dataDir: '.task-state/db-local' },
  migrateCommand: ['pnpm', 'db:migrate'],
  prices: {
    // List prices for us-central1, on-demand, taken from the public pricing pages; override here.
    takenOn: '2026-11-01',
    currency: 'USD',
    sqlTierMonthly: { 'db-f1-micro': 7.67, 'db-g1-small': 25.55, 'db-custom-1-3840': 49.93, 'db-custom-2-7680': 99.86 },
    sqlStorageGbMonthSsd: 0.17,
    sqlStorageGbMonthHdd: 0.09,
    sqlRegionalMultiplier: 2,
    storageGbMonth: 0.02,
    registryGbMonth: 0.1,
    secretVersionMonth: 0.06,
    vectorDbMonthly: 25,
    vectorDbName: 'a managed vector database (e.g. Weaviate Cloud, smallest tier)',
  },
});

export default defineConfig({
  infra,
  envSchema: gcpEnvSchema,
  sandboxVars: (env, sandbox) => sandboxVars(env, sandbox, infra),
  tasks: [
    ...gcpTasks(infra),
    // Your own tasks go here, with the same API the built-in ones use (see README, "Your own tasks").
  ],
});
