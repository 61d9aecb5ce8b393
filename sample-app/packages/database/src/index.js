// Database access for the services: Prisma client, connected through the Cloud SQL Unix socket on Cloud Run.
import { createLogger } from '@clone/logger';

const log = createLogger('database');

/** postgresql://… for Prisma: the Unix socket /cloudsql/PROJECT:REGION:INSTANCE on Cloud Run, TCP elsewhere. */
export function databaseUrl(env = process.env) {
  const user = encodeURIComponent(env.DATABASE_USER ?? 'postgres');
  const password = encodeURIComponent(env.DATABASE_PASSWORD ?? '');
  const name = env.DATABASE_NAME ?? 'digitwinlive-db';
  const host = env.DATABASE_HOST ?? '127.0.0.1';
  if (host.startsWith('/cloudsql/')) return `postgresql://${user}:${password}@localhost/${name}?host=${host}`;
  return `postgresql://${user}:${password}@${host}:${env.DATABASE_PORT ?? 5432}/${name}`;
}

export async function connect() {
  const { PrismaClient } = await import('@prisma/client');
  log.info('connecting to the database');
  return new PrismaClient({ datasources: { db: { url: databaseUrl() } } });
}
