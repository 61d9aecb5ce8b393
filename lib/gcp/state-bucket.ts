// Records, salt and lock in a Cloud Storage bucket, shared by every clone and CI runner of a project: a
// teammate's or a pipeline's run finds what another already did cached, and one run at a time changes a
// project + environment wherever it starts. Cloud Storage is strongly consistent and every write here is
// conditional on the generation it read (0 = must not exist yet), so two writers never silently overwrite
// each other. Objects: <prefix>/salt, <prefix>/<project>/<env>/records/<task>.json, …/<env>/lock.json.
import { randomBytes } from 'node:crypto';
import { UserError } from '../engine/errors.js';
import { parseRecord, recordText, type RecordStore, type TaskRecord } from '../engine/cache.js';
import { currentHolder, describeHolder, lockHeldError, type HeldLock, type Lock, type LockHolder, type Takeover } from '../engine/lock.js';
import type { SharedState } from '../engine/platform.js';
import type { ConfigDef } from '../engine/types.js';
import { delay } from '../engine/wait.js';
import { GcloudError } from './gcloud.js';
import type { StorageClient } from './rest.js';

/** Where the shared state lives: a bucket and a folder in it. */
export interface StateLocation {
  bucket: string;
  prefix: string;
}

/** Overrides the config's `state`: gs://bucket/prefix. */
export const STATE_ENV = 'GCP_TASKS_STATE';
/** How long a lock stays valid without renewal (a crashed holder's lock is free after it). */
export const LEASE_ENV = 'GCP_TASKS_LEASE_SECONDS';
const DEFAULT_LEASE_SECONDS = 120;

/** Tasks that make or fill the bucket run with local state: the bucket may not exist yet. */
export const BUCKET_TASKS: ReadonlySet<string> = new Set(['state:init', 'state:migrate']);

export const stateUrl = (loc: StateLocation): string => `gs://${loc.bucket}/${loc.prefix}`;

/** `gs://bucket/some/prefix` → { bucket, prefix: 'some/prefix' }. */
export function parseStateUrl(url: string, origin: string): StateLocation {
  const match = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(url.trim());
  if (!match) {
    throw new UserError(`${origin} must be a Cloud Storage URL gs://<bucket>[/<prefix>] (got "${url}").`, {
      hint: 'Example: GCP_TASKS_STATE=gs://my-app-task-state/gcp-tasks. Leave it unset to keep state in .task-state/.',
    });
  }
  return { bucket: match[1]!, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** The shared state asked for: GCP_TASKS_STATE over the config's `state`; undefined = local state. */
export function configuredState(config: ConfigDef, processEnv: NodeJS.ProcessEnv): StateLocation | undefined {
  const fromEnv = processEnv[STATE_ENV];
  if (fromEnv) return parseStateUrl(fromEnv, STATE_ENV);
  if (!config.state) return undefined;
  const { bucket, prefix = '' } = config.state;
  return parseStateUrl(`gs://${bucket}/${prefix}`, 'state in tasks.config.ts');
}

/** The lease length: GCP_TASKS_LEASE_SECONDS when set. */
export function leaseSeconds(processEnv: NodeJS.ProcessEnv): number {
  const raw = processEnv[LEASE_ENV];
  if (raw === undefined || raw === '') return DEFAULT_LEASE_SECONDS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 1) throw new UserError(`${LEASE_ENV} must be a number of seconds of at least 1 (got "${raw}").`);
  return seconds;
}

const join = (...parts: string[]) => parts.filter(Boolean).join('/');
const isPrecondition = (e: unknown) => e instanceof GcloudError && e.kind === 'precondition';

/** A missing bucket (a list or an upload answered 404) said as what to do; other errors as they are. */
function explain(error: unknown, loc: StateLocation): unknown {
  if (!(error instanceof GcloudError && error.kind === 'not-found')) return error;
  return new UserError(`The state bucket gs://${loc.bucket} does not exist (or this account cannot see it).`, {
    hint: `Create it with pnpm task state:init (same --env and project), or unset ${STATE_ENV} / the config's state to keep state in .task-state/.`,
    cause: error,
  });
}

/** Records and salt of one project + environment in the bucket. */
export function bucketRecords(client: StorageClient, loc: StateLocation, project: string, env: string): RecordStore {
  const dir = join(loc.prefix, project, env, 'records') + '/';
  const objectOf = (task: string) => `${dir}${task}.json`;
  /** What this run knows of each record: its content and the generation a write or delete must name ('0' = none). */
  const known = new Map<string, { record: TaskRecord | null; generation: string }>();
  let loaded: Promise<void> | undefined;
  let salt: Promise<string> | undefined;

  // One list, then every record in parallel: the run's reads cost one round trip plus the slowest object.
  const load = () =>
    (loaded ??= (async () => {
      const objects = await client.list(loc.bucket, dir).catch((e: unknown) => Promise.reject(explain(e, loc)));
      await Promise.all(
        objects
          .filter((o) => o.name.endsWith('.json'))
          .map(async ({ name }) => {
            const task = name.slice(dir.length, -'.json'.length);
            const object = await client.read(loc.bucket, name);
            if (object) known.set(task, { record: parseRecord(object.text, task), generation: object.generation });
          }),
      );
    })());

  const current = async (task: string) => {
    await load();
    return known.get(task) ?? { record: null, generation: '0' };
  };

  const reread = async (task: string) => {
    const object = await client.read(loc.bucket, objectOf(task));
    const state = object ? { record: parseRecord(object.text, task), generation: object.generation } : { record: null, generation: '0' };
    known.set(task, state);
    return state;
  };

  const conflict = (task: string) =>
    new UserError(`The record of ${task} in ${stateUrl(loc)} was changed by another run while this one ran, for other inputs: it was not overwritten.`, {
      hint: 'Another run of the same project and environment wrote it without holding the lock (or after its lease expired). Run the task again to record it for the current inputs.',
    });

  return {
    read: async (task) => (await current(task)).record,

    async write(record) {
      const text = recordText(record);
      const put = async (generation: string) => known.set(record.task, { record: { version: 1, ...record }, generation: await client.write(loc.bucket, objectOf(record.task), text, generation) });
      try {
        await put((await current(record.task)).generation);
      } catch (error) {
        if (!isPrecondition(error)) throw error;
        // Someone wrote or removed it meanwhile: the same result may replace it, another one is reported.
        const now = await reread(record.task);
        if (now.record && now.record.fingerprint.hash !== record.fingerprint.hash) throw conflict(record.task);
        try {
          await put(now.generation);
        } catch (again) {
          throw isPrecondition(again) ? conflict(record.task) : again;
        }
      }
    },

    async delete(task) {
      const { generation } = await current(task);
      if (generation === '0') return;
      try {
        await client.delete(loc.bucket, objectOf(task), generation);
      } catch (error) {
        if (!isPrecondition(error)) throw error;
        const now = await reread(task);
        if (now.generation !== '0') await client.delete(loc.bucket, objectOf(task), now.generation);
      }
      known.set(task, { record: null, generation: '0' });
    },

    async list() {
      await load();
      return [...known].filter(([, v]) => v.record).map(([task]) => task).sort();
    },

    // One salt for every project and environment under the prefix, created once by whoever comes first.
    salt: () =>
      (salt ??= (async () => {
        const name = join(loc.prefix, 'salt');
        const existing = await client.read(loc.bucket, name);
        if (existing) return existing.text.trim();
        const fresh = randomBytes(32).toString('hex');
        try {
          await client.write(loc.bucket, name, fresh, '0', 'text/plain');
          return fresh;
        } catch (error) {
          if (!isPrecondition(error)) throw error;
          const theirs = await client.read(loc.bucket, name);
          if (!theirs) throw error;
          return theirs.text.trim();
        }
      })()),
  };
}

/**
 * Makes `salt` the bucket's salt when it has none yet (state:migrate: records copied up keep matching their
 * env values). False when the bucket already has one.
 */
export async function seedSalt(client: StorageClient, loc: StateLocation, salt: string): Promise<boolean> {
  try {
    await client.write(loc.bucket, join(loc.prefix, 'salt'), salt, '0', 'text/plain');
    return true;
  } catch (error) {
    if (isPrecondition(error)) return false;
    throw error;
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const holder = JSON.parse(text) as LockHolder;
    return typeof holder.pid === 'number' && typeof holder.host === 'string' ? holder : null;
  } catch {
    return null;
  }
}

const expired = (holder: LockHolder | null) => !holder || !holder.expiresAt || Date.parse(holder.expiresAt) <= Date.now();

/**
 * The lease lock of one project + environment: an object created with ifGenerationMatch=0, renewed every
 * third of the lease while the run lives, deleted at the end. A lease that ran out (its run crashed or was
 * killed) is taken over with ifGenerationMatch=<the generation read>, so two runs cannot both take it.
 */
export function bucketLock(client: StorageClient, loc: StateLocation, project: string, env: string, opts: { leaseSeconds: number; warn(text: string): void }): Lock {
  const name = join(loc.prefix, project, env, 'lock.json');
  const where = `gs://${loc.bucket}/${name}`;
  const leaseMs = opts.leaseSeconds * 1000;

  const read = async () => {
    const object = await client.read(loc.bucket, name);
    return object && { holder: parseHolder(object.text), generation: object.generation };
  };

  return {
    where,
    holder: async () => (await read())?.holder ?? null,
    remove: async () => void (await client.delete(loc.bucket, name)),

    async acquire({ command, timeoutMs = 0, signal }): Promise<HeldLock> {
      const me = currentHolder(command);
      const body = () => JSON.stringify({ ...me, expiresAt: new Date(Date.now() + leaseMs).toISOString() }, null, 2);
      const deadline = Date.now() + timeoutMs;
      let generation: string | undefined;
      let tookOver: Takeover | undefined;
      while (generation === undefined) {
        try {
          generation = await client.write(loc.bucket, name, body(), '0');
          break;
        } catch (error) {
          if (!isPrecondition(error)) throw explain(error, loc);
        }
        const current = await read();
        if (!current) continue; // released between our write and our read
        if (expired(current.holder)) {
          try {
            generation = await client.write(loc.bucket, name, body(), current.generation);
            const holder = current.holder ?? { pid: 0, host: '?', command: '(unreadable lock)', startedAt: new Date(0).toISOString() };
            tookOver = { holder, why: current.holder?.expiresAt ? `its lease expired at ${current.holder.expiresAt}` : 'its content was unreadable', ended: [] };
          } catch (error) {
            if (!isPrecondition(error)) throw error; // another run took it first: look again
          }
          continue;
        }
        const refusal = () => lockHeldError(`Another run holds the lock ${where}: ${describeHolder(current.holder!)}; its lease runs until ${current.holder!.expiresAt}.`, where);
        if (Date.now() >= deadline || signal?.aborted) throw refusal();
        await delay(Math.min(1000, Math.max(1, deadline - Date.now())), signal ?? new AbortController().signal);
        if (signal?.aborted) throw refusal();
      }

      let held = true;
      let renewing: Promise<void> = Promise.resolve();
      const renew = async () => {
        try {
          generation = await client.write(loc.bucket, name, body(), generation!);
        } catch (error) {
          if (!held) return;
          if (isPrecondition(error)) {
            held = false;
            clearInterval(timer);
            opts.warn(`The lock ${where} was taken over by another run (this run's lease was not renewed in time): two runs may now change the same resources.`);
          } else opts.warn(`Could not renew the lock ${where}: ${(error as Error).message}. Retrying; the lease runs for ${opts.leaseSeconds} s.`);
        }
      };
      const timer = setInterval(() => (renewing = renewing.then(renew)), Math.max(250, leaseMs / 3));
      timer.unref();
      return {
        where,
        tookOver,
        async release() {
          if (!held) return;
          held = false;
          clearInterval(timer);
          await renewing;
          try {
            await client.delete(loc.bucket, name, generation);
          } catch (error) {
            if (!isPrecondition(error)) throw error; // taken over meanwhile: it is no longer ours to delete
          }
        },
      };
    },
  };
}

/** The shared state of one project + environment in the bucket. */
export function bucketState(client: StorageClient, loc: StateLocation, project: string, env: string, opts: { leaseSeconds: number; warn(text: string): void }): SharedState {
  return { where: stateUrl(loc), records: bucketRecords(client, loc, project, env), lock: bucketLock(client, loc, project, env, opts) };
}
