// The health check of a new revision: GET <url>/health until it answers 2xx, with a bounded number of
// attempts and exponential backoff. Only 2xx passes (the old script accepted 404). Network errors, 429
// and 5xx are retried (a cold start); anything else (404: no health endpoint) fails at once.
import { registerSecret } from '../../lib/engine/redact.js';
import type { TaskContext } from '../../lib/engine/types.js';
import { backoff, delay } from '../../lib/engine/wait.js';
import { z } from 'zod';

const ATTEMPTS = 6;
const FIRST_WAIT_MS = 250;
const MAX_WAIT_MS = 4000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface HealthResult {
  ok: boolean;
  url: string;
  attempts: number;
  elapsedMs: number;
  /** `200`, `503 Service Unavailable`, or the network error. */
  last: string;
}

export async function checkHealth(url: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<HealthResult> {
  const started = Date.now();
  let last = '';
  for (let attempt = 1; ; attempt++) {
    let retryable = true;
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]), redirect: 'manual' });
      await response.arrayBuffer();
      last = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (response.ok) return { ok: true, url, attempts: attempt, elapsedMs: Date.now() - started, last };
      retryable = response.status === 429 || response.status >= 500;
    } catch (error) {
      last = (error as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : String((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    }
    if (!retryable || attempt >= ATTEMPTS || signal.aborted) return { ok: false, url, attempts: attempt, elapsedMs: Date.now() - started, last };
    await delay(backoff(attempt - 1, FIRST_WAIT_MS, MAX_WAIT_MS), signal);
  }
}

/** `GET https://…/health → 503 Service Unavailable (6 attempts over 7.9 s)` */
export function describeHealth(result: HealthResult): string {
  return `GET ${result.url} → ${result.last} (${result.attempts} attempt${result.attempts === 1 ? '' : 's'} over ${(result.elapsedMs / 1000).toFixed(1)} s)`;
}

/**
 * Request headers for the check: a service that is not public only answers requests carrying an
 * identity token (`gcloud auth print-identity-token`, registered for redaction). Without one (no
 * credentials) the check goes unauthenticated and Cloud Run's 403 fails it, saying so.
 */
export async function healthHeaders(ctx: TaskContext, isPublic: boolean): Promise<Record<string, string>> {
  if (isPublic) return {};
  const token = await ctx.gcloud.read(z.string(), ['auth', 'print-identity-token'], { json: false, project: false, secretOutput: true }).catch(() => null);
  if (!token?.trim()) {
    ctx.log.warn('no identity token (gcloud auth print-identity-token failed): checking the private service without one');
    return {};
  }
  registerSecret(token.trim());
  return { authorization: `Bearer ${token.trim()}` };
}
