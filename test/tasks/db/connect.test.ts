// The route to Cloud SQL outside the sandbox, decided from what `gcloud sql instances describe` returns
// (shaped like the captured responses): without cloud-sql-proxy and with an address that does not answer,
// the error names both fixes; a stopped, missing or secret-less setup names the task that fixes it.
// The database side is covered against real servers in pgvector.test.ts; here no connection is made.
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { z } from 'zod';
import { UserError } from '../../../lib/engine/errors.js';
import type { Gcloud } from '../../../lib/gcp/gcloud.js';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import { findOnPath, openCloudSql } from '../../../lib/postgres/connect.js';
import type { TaskContext } from '../../../lib/engine/types.js';
import { infra as baseInfra } from '../../../tasks.config.js';

const infra = resolveInfra(baseInfra, { env: 'production', project: 'demo-project', region: 'us-central1', vars: {} });

/** Answers the two reads openCloudSql makes; anything else is a test failure. */
function context(instance: object | null, secret: string | null = 'pw-from-secret-manager'): TaskContext {
  const gcloud = {
    calls: 0,
    retries: 0,
    // read(schema, args) or read(args): the answer goes through the schema as the wrapper's would.
    async read(schemaOrArgs: z.ZodType | string[], maybeArgs?: string[]) {
      const [schema, args] = Array.isArray(schemaOrArgs) ? [undefined, schemaOrArgs] : [schemaOrArgs, maybeArgs!];
      const answer = (value: unknown) => (value === null || !schema ? value : schema.parse(value));
      if (args.slice(0, 3).join(' ') === 'sql instances describe') return answer(instance);
      if (args.slice(0, 3).join(' ') === 'secrets versions access') return answer(secret);
      throw new Error(`unexpected gcloud ${args.join(' ')}`);
    },
    async mutate() {
      throw new Error('no mutation expected');
    },
  } as unknown as Gcloud;
  const log = { info() {}, success() {}, warn() {}, error() {}, debug() {}, output() {} };
  return { infra, project: 'demo-project', gcloud, log, signal: new AbortController().signal } as unknown as TaskContext;
}

async function failure(ctx: TaskContext): Promise<UserError> {
  try {
    const conn = await openCloudSql(ctx);
    await conn.close();
  } catch (err) {
    assert.instance(err, UserError);
    return err as UserError;
  }
  throw new Error('expected a UserError');
}

const running = (ipAddress?: string) => ({
  name: infra.sql.instance,
  state: 'RUNNABLE',
  settings: { activationPolicy: 'ALWAYS' },
  ipAddresses: ipAddress ? [{ type: 'PRIMARY', ipAddress }] : [],
});

test('precondition: cloud-sql-proxy is not installed on this machine', () => {
  assert.is(findOnPath('cloud-sql-proxy'), undefined);
});

test('no proxy and a public IP that does not answer: says what to install or authorise', async () => {
  // A loopback address where nothing listens on 5432 stands for an IP this machine is not authorised on.
  const err = await failure(context(running('127.0.0.254')));
  assert.match(err.message, /cloud-sql-proxy is not installed/);
  assert.match(err.message, /127\.0\.0\.254:5432 does not answer/);
  assert.match(err.hint!, /gcloud components install cloud-sql-proxy/);
  assert.ok(err.hint!.includes(`gcloud sql instances patch ${infra.sql.instance} --authorized-networks=<your ip>/32`), err.hint);
});

test('no proxy and no public IP: says to install the proxy', async () => {
  const err = await failure(context(running()));
  assert.match(err.message, /no public IP address/);
  assert.match(err.hint!, /cloud-sql-proxy/);
});

test('a stopped instance names sql:start; a missing one sql:create; a missing secret secrets:create', async () => {
  const stopped = await failure(context({ ...running('127.0.0.254'), settings: { activationPolicy: 'NEVER' } }));
  assert.match(stopped.message, /is stopped/);
  assert.is(stopped.hint, 'Start it with: pnpm task sql:start');
  const missing = await failure(context(null));
  assert.match(missing.hint!, /pnpm task sql:create/);
  const noSecret = await failure(context(running('127.0.0.254'), null));
  assert.match(noSecret.message, /database-password/);
  assert.match(noSecret.hint!, /pnpm task secrets:create/);
});

test('the direct route is taken when the address answers on 5432; the password stays in the client config', async () => {
  // A listener on a random loopback address stands for the instance's authorised public IP.
  const host = `127.0.${200 + Math.floor(Math.random() * 50)}.${1 + Math.floor(Math.random() * 250)}`;
  const server = net.createServer((s) => s.end());
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(5432, host, resolve));
  try {
    const conn = await openCloudSql(context(running(host)));
    assert.is(conn.route, 'direct');
    assert.is(conn.host, host);
    assert.is(conn.port, 5432);
    assert.is(conn.target.config.password, 'pw-from-secret-manager');
    assert.is(conn.url, `postgresql://postgres:pw-from-secret-manager@${host}:5432/digitwinlive-db`);
    await conn.close();
  } finally {
    server.close();
  }
});

test.run();
