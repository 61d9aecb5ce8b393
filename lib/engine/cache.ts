// Makefile semantics for cloud steps: a task's fingerprint (everything that changes its effect) and the
// record store holding one record per task from its last successful run.
//
// A record is written only after the task succeeded, and deleted before the task runs again, so a crash,
// kill -9 or Ctrl-C mid-run leaves the task stale, never falsely done. The local store writes atomically
// (write-file-atomic: temp file, fsync, rename); a platform may keep records elsewhere (a bucket shared by a team).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { FingerprintContext, Json, TaskDef } from './types.js';
import { codeFingerprints } from './code-hash.js';
import { sourceFiles, taskSource } from './task-source.js';

const RECORD_VERSION = 1;

/** The parts of a fingerprint, kept separately so a miss can say which input changed. */
export interface FingerprintParts {
  /** Hash of the task's code: its module and the project modules that imports, or its functions' text when its module is unknown. */
  definition: string;
  /** Where it acts (the environment and the platform's target): stored in clear, the user chose it. */
  target: Record<string, string>;
  /** Hash of the declared config slice (null when none is declared). */
  config: string | null;
  /** Declared env keys → salted hash of the value (values are never stored). */
  env: Record<string, string>;
  /** Input files (relative to the config root) → sha256 of their content. */
  files: Record<string, string>;
  /** Hash of the task arguments. */
  args: string;
  /** Direct dependencies → hash of their outputs (not of their fingerprints: same digest, no redeploy). */
  deps: Record<string, string>;
}

export interface Fingerprint {
  hash: string;
  parts: FingerprintParts;
}

export interface TaskRecord {
  version: typeof RECORD_VERSION;
  task: string;
  fingerprint: Fingerprint;
  outputs: Json;
  finishedAt: string;
  durationMs: number;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** JSON with sorted object keys, so equal values always hash the same (turbo #2029). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

export const hashOutputs = (outputs: Json | void): string => sha256(stableJson(outputs ?? null));

/** Why a task must run, comparing the last successful record with the current fingerprint; null = fresh. */
export function staleReason(record: TaskRecord | null, fp: Fingerprint): string | null {
  if (!record) return 'never ran';
  if (record.fingerprint.hash === fp.hash) return null;
  const prev = record.fingerprint.parts;
  const next = fp.parts;
  const reasons: string[] = [];
  if (prev.definition !== next.definition) reasons.push('task definition changed');
  for (const key of new Set([...Object.keys(prev.target), ...Object.keys(next.target)])) {
    if (prev.target[key] !== next.target[key]) reasons.push(`${key} changed (${prev.target[key] || '-'} → ${next.target[key] || '-'})`);
  }
  if (prev.config !== next.config) reasons.push('config changed');
  reasons.push(...mapChanges(prev.env, next.env, (k, what) => `env ${k} ${what}`));
  reasons.push(...mapChanges(prev.files, next.files, (f, what) => `input ${f} ${what}`));
  if (prev.args !== next.args) reasons.push('arguments changed');
  reasons.push(...mapChanges(prev.deps, next.deps, (d, what) => (what === 'changed' ? `dependency ${d} output changed` : `dependency ${d} ${what}`)));
  if (!reasons.length) return 'fingerprint changed';
  return reasons.length === 1 ? reasons[0]! : `${reasons[0]} (+${reasons.length - 1} more)`;
}

function mapChanges(prev: Record<string, string>, next: Record<string, string>, say: (key: string, what: string) => string): string[] {
  const out: string[] = [];
  for (const key of Object.keys(next)) {
    if (!(key in prev)) out.push(say(key, 'added'));
    else if (prev[key] !== next[key]) out.push(say(key, 'changed'));
  }
  for (const key of Object.keys(prev)) if (!(key in next)) out.push(say(key, 'removed'));
  return out;
}

/** Computes fingerprints. One per run: definition and file hashes are memoised across tasks. */
export class Fingerprinter {
  readonly #salt: string;
  readonly #root: string;
  readonly #definitions = new WeakMap<TaskDef, Promise<string>>();
  #code?: Promise<ReadonlyMap<string, string>>;
  readonly #files = new Map<string, Promise<string>>();

  constructor(opts: { salt: string; root: string }) {
    this.#salt = opts.salt;
    this.#root = opts.root;
  }

  async compute(task: TaskDef, ctx: FingerprintContext, depOutputs: ReadonlyMap<string, Json | void>): Promise<Fingerprint> {
    const inputs = task.inputs ?? {};
    const env: Record<string, string> = {};
    for (const key of [...(inputs.env ?? [])].sort()) {
      // Salted per state folder: a short secret's hash cannot be looked up in a precomputed table.
      env[key] = key in ctx.vars ? sha256(`${this.#salt}\0${key}\0${ctx.vars[key]}`) : 'unset';
    }
    const globs = typeof inputs.files === 'function' ? inputs.files(ctx) : inputs.files;
    const deps: Record<string, string> = {};
    for (const [dep, outputs] of [...depOutputs].sort(([a], [b]) => (a < b ? -1 : 1))) deps[dep] = hashOutputs(outputs);
    const parts: FingerprintParts = {
      definition: await this.#definition(task),
      target: { env: ctx.env, ...ctx.target },
      config: inputs.config ? sha256(stableJson(inputs.config(ctx) ?? null)) : null,
      env,
      files: globs?.length ? await this.#hashFiles(globs) : {},
      args: sha256(stableJson(ctx.args)),
      deps,
    };
    return { hash: sha256(stableJson(parts)), parts };
  }

  #definition(task: TaskDef): Promise<string> {
    let hash = this.#definitions.get(task);
    if (!hash) {
      hash = this.#codeOf(task).then((code) => sha256(`${stableJson({ always: !!task.always, inputEnv: task.inputs?.env ?? [] })}\0${code}`));
      this.#definitions.set(task, hash);
    }
    return hash;
  }

  async #codeOf(task: TaskDef): Promise<string> {
    const source = taskSource(task);
    if (source) {
      this.#code ??= codeFingerprints(sourceFiles(), this.#root);
      const hash = (await this.#code).get(source);
      if (hash) return hash;
    }
    // A task built in code outside any module we can see (an embedding program, a test): its functions' text.
    return [task.run, task.check, task.invalidates, task.inputs?.files, task.inputs?.config]
      .map((f) => (typeof f === 'function' ? f.toString() : stableJson(f ?? null)))
      .join('\0');
  }

  async #hashFiles(globs: string[]): Promise<Record<string, string>> {
    const matches = await this.#match(globs);
    const files: Record<string, string> = {};
    const sorted = [...new Set(matches.map((m) => path.relative(this.#root, path.resolve(this.#root, m))))].sort();
    const hashes = await Promise.all(sorted.map((rel) => this.#hashFile(path.resolve(this.#root, rel))));
    sorted.forEach((rel, i) => (files[rel] = hashes[i]!));
    return files;
  }

  /** The files the patterns name. Patterns that are plain paths (escapes allowed) need no glob library, only a stat. */
  async #match(globs: string[]): Promise<string[]> {
    const ignored = (file: string) => /(^|\/)(node_modules|\.git)\//.test(path.relative(this.#root, path.resolve(this.#root, file)).split(path.sep).join('/'));
    const literals = globs.map(literalPath);
    if (literals.every((l) => l !== undefined)) {
      const isFile = await Promise.all(literals.map((l) => fs.promises.stat(path.resolve(this.#root, l!)).then((st) => st.isFile(), () => false)));
      return literals.filter((l, i) => isFile[i] && !ignored(l!)) as string[];
    }
    const { glob } = await import('zx');
    return glob(globs, {
      cwd: this.#root,
      dot: true,
      onlyFiles: true,
      followSymbolicLinks: true,
      ignore: ['**/node_modules/**', '**/.git/**'],
    });
  }

  #hashFile(file: string): Promise<string> {
    let hash = this.#files.get(file);
    if (!hash) {
      hash = fs.promises.readFile(file).then(sha256);
      this.#files.set(file, hash);
    }
    return hash;
  }
}

/** The path a glob pattern names when it has no wildcard, brace, class or negation (`\\x` escapes one character); else undefined. */
export function literalPath(pattern: string): string | undefined {
  if (pattern.startsWith('!')) return undefined;
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) out += pattern[++i];
    else if ('*?[]{}()'.includes(c) || ('@+!'.includes(c) && pattern[i + 1] === '(')) return undefined;
    else out += c;
  }
  return out;
}

/** The per-state-folder salt for env value hashes (created once, mode 0600). */
export function loadSalt(stateDir: string): string {
  const file = path.join(stateDir, 'salt');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(stateDir, { recursive: true });
    const salt = randomBytes(32).toString('hex');
    try {
      fs.writeFileSync(file, salt + '\n', { mode: 0o600, flag: 'wx' });
      return salt;
    } catch {
      return fs.readFileSync(file, 'utf8').trim(); // another run created it first
    }
  }
}

/** A file name for a task name (`deploy:api-gateway` stays readable; anything unsafe becomes `_`). */
export const safeFileName = (name: string): string => name.replace(/[^A-Za-z0-9._:@+=,-]/g, '_').replace(/^\./, '_');

/** The folder of records for one target + environment, so switching environments keeps both caches. */
export const recordsDir = (stateDir: string, key: string, env: string): string =>
  path.join(stateDir, 'records', safeFileName(`${key || 'local'}.${env}`));

/** Where the records of one target + environment live, with the salt their env hashes use. */
export interface RecordStore {
  /** The record, or null when there is none or it cannot be trusted (torn, foreign, older format). */
  read(task: string): Promise<TaskRecord | null>;
  write(record: Omit<TaskRecord, 'version'>): Promise<void>;
  delete(task: string): Promise<void>;
  /** The names of the tasks that have a record. */
  list(): Promise<string[]>;
  /** The secret mixed into env value hashes, the same for every run sharing these records. */
  salt(): Promise<string>;
}

/** A record as stored, or null when it cannot be trusted (torn, foreign, older format). */
export function parseRecord(text: string, task: string): TaskRecord | null {
  try {
    const record = JSON.parse(text) as TaskRecord;
    return record.version === RECORD_VERSION && record.task === task && typeof record.fingerprint?.hash === 'string' ? record : null;
  } catch {
    return null;
  }
}

export const recordText = (record: Omit<TaskRecord, 'version'>): string => JSON.stringify({ version: RECORD_VERSION, ...record }, null, 2);

/** The local RecordStore: one JSON file per task in a folder made by recordsDir, the salt in its state folder. */
export class StateStore implements RecordStore {
  readonly dir: string;
  #made = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  #file(task: string): string {
    return path.join(this.dir, `${safeFileName(task)}.json`);
  }

  async read(task: string): Promise<TaskRecord | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.#file(task), 'utf8');
    } catch {
      return null;
    }
    return parseRecord(text, task);
  }

  async list(): Promise<string[]> {
    let files: string[];
    try {
      files = await fs.promises.readdir(this.dir);
    } catch {
      return [];
    }
    const taskOf = async (file: string): Promise<string[]> => {
      try {
        const { task } = JSON.parse(await fs.promises.readFile(path.join(this.dir, file), 'utf8')) as { task?: unknown };
        return typeof task === 'string' ? [task] : [];
      } catch {
        return []; // torn or removed meanwhile: not a record
      }
    };
    return (await Promise.all(files.filter((f) => f.endsWith('.json')).map(taskOf))).flat();
  }

  /** The state folder's salt: records folders sit at <stateDir>/records/<target.env>/. */
  async salt(): Promise<string> {
    return loadSalt(path.resolve(this.dir, '..', '..'));
  }

  /** Atomic: readers see the old record or the new one, never a partial file, even after kill -9. */
  async write(record: Omit<TaskRecord, 'version'>): Promise<void> {
    if (!this.#made) {
      await fs.promises.mkdir(this.dir, { recursive: true });
      this.#made = true;
    }
    const file = this.#file(record.task);
    await writeFileAtomic(file, recordText(record), { mode: 0o600, fsync: true });
  }

  async delete(task: string): Promise<void> {
    // Synchronous on purpose: one short syscall the task must wait for anyway, where an asynchronous unlink
    // costs a trip through libuv's thread pool (busy with other tasks' log files) before every task starts.
    try {
      fs.unlinkSync(this.#file(task));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Deletes the records of the given tasks in every project/environment, or all records. Returns how many. */
export async function clearRecords(stateDir: string, tasks?: readonly string[]): Promise<number> {
  const root = path.join(stateDir, 'records');
  let count = 0;
  let namespaces: string[];
  try {
    namespaces = await fs.promises.readdir(root);
  } catch {
    return 0;
  }
  const wanted = tasks && new Set(tasks.map((t) => `${safeFileName(t)}.json`));
  for (const ns of namespaces) {
    for (const file of await fs.promises.readdir(path.join(root, ns))) {
      if (wanted && !wanted.has(file)) continue;
      await fs.promises.rm(path.join(root, ns, file), { force: true });
      if (file.endsWith('.json')) count++;
    }
  }
  return count;
}
