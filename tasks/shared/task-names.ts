// Every built-in task's name, once. Dependencies, hints and the records a destructive step drops refer to
// tasks through these, so a rename is one edit and a misspelt name is a type error, not a task that is
// silently never found.
export const TASK = {
  apisEnable: 'apis:enable',
  registryCreate: 'registry:create',
  bucketsCreate: 'buckets:create',
  iamCreate: 'iam:create',
  secretsCreate: 'secrets:create',
  secretsEnv: 'secrets:env',
  sqlCreate: 'sql:create',
  sqlPassword: 'sql:password',
  sqlPgvector: 'sql:pgvector',
  sqlStart: 'sql:start',
  sqlStop: 'sql:stop',
  setup: 'setup',
  urls: 'urls',
  deployAll: 'deploy:all',
  status: 'status',
  list: 'list',
  cost: 'cost',
  cleanup: 'cleanup',
  resourceDelete: 'resource:delete',
  apiEnable: 'api:enable',
  dbLocal: 'db:local',
  dbStop: 'db:stop',
  dbMigrate: 'db:migrate',
  stateInit: 'state:init',
  stateMigrate: 'state:migrate',
  build: (service: string) => `build:${service}` as const,
  deploy: (service: string) => `deploy:${service}` as const,
  rollback: (service: string) => `rollback:${service}` as const,
} as const;

type Named = (typeof TASK)[keyof typeof TASK];

/** The name of a built-in task (a per-service one included). */
export type TaskName = Named extends infer N ? (N extends (...args: never[]) => infer R ? R : N) : never;
