// One read-only cloud query with a deadline, and its outcome as data. Reports (status, list, cost) and
// cleanup's discovery run many of these at once; a hung or failing query must neither hold the others
// nor be confused with "the resource does not exist" (the old status printed timeouts as "not found").
import { GcloudError } from '../../lib/gcp/gcloud.js';

export type Probe<T> =
  | { state: 'ok'; value: T }
  | { state: 'missing' }
  | { state: 'timed-out'; afterMs: number }
  /** `apiDisabled`: the API of the resource type is off in the project, so none of its resources can exist. */
  | { state: 'error'; message: string; apiDisabled?: boolean };

export class Deadline {
  private readonly end: number;
  constructor(
    /** Longest a single query may take. */
    readonly perQueryMs: number,
    /** Budget of the whole report, counted from now. */
    totalMs: number,
  ) {
    this.end = Date.now() + totalMs;
  }

  /** Time a query started now may take: the per-query limit, cut to what is left of the total. */
  remaining(): number {
    return Math.max(0, Math.min(this.perQueryMs, this.end - Date.now()));
  }
}

/**
 * Runs `query` (which resolves to null when the resource does not exist) with the deadline's time limit.
 * The limit is also passed to the query (`timeoutMs`) so the gcloud process is killed rather than left running.
 */
export async function probe<T>(deadline: Deadline, query: (timeoutMs: number) => Promise<T | null>): Promise<Probe<T>> {
  const limit = deadline.remaining();
  if (limit <= 0) return { state: 'timed-out', afterMs: 0 };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Probe<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'timed-out', afterMs: limit }), limit);
  });
  const answer = query(limit).then(
    (value): Probe<T> => (value === null || value === undefined ? { state: 'missing' } : { state: 'ok', value }),
    (e: unknown): Probe<T> => classifyFailure(e, limit),
  );
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function classifyFailure<T>(e: unknown, limit: number): Probe<T> {
  if (e instanceof GcloudError) {
    if (e.kind === 'not-found') return { state: 'missing' };
    if (e.kind === 'timeout') return { state: 'timed-out', afterMs: limit };
    if (/SERVICE_DISABLED|has not been used in project|is disabled/i.test(e.message)) return { state: 'error', message: 'the API is disabled (pnpm task apis:enable)', apiDisabled: true };
    return { state: 'error', message: firstLine(e.message) };
  }
  return { state: 'error', message: firstLine(e instanceof Error ? e.message : String(e)) };
}

/** The first line of an error, or the `message` of a JSON error body some commands print; kept short. */
function firstLine(text: string): string {
  let line = text.split('\n').find((l) => l.trim())?.trim() ?? text;
  try {
    line = JSON.parse(line)?.error?.message ?? line;
  } catch {
    // not JSON: keep the line
  }
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** The value of an ok probe, else undefined. */
export function valueOf<T>(p: Probe<T>): T | undefined {
  return p.state === 'ok' ? p.value : undefined;
}

/** A short human description of a probe that did not answer with a value. */
export function describeFailure(p: Probe<unknown>): string {
  switch (p.state) {
    case 'timed-out':
      return `timed out after ${(p.afterMs / 1000).toFixed(1)} s (not known whether it exists)`;
    case 'error':
      return `query failed: ${p.message}`;
    case 'missing':
      return 'missing';
    default:
      return 'ok';
  }
}
