// Waiting without hanging: an abortable delay, the backoff steps polling loops use, and polling a condition.

/**
 * Resolves after `ms`, or at once when the run is interrupted (the caller checks signal.aborted). Only a wait
 * that must end even then (for a process already told to stop) goes without a signal.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(); // an aborted signal fires no more 'abort' events
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The n-th wait (0-based) of an exponential backoff from `firstMs`, doubling up to `maxMs`. */
export function backoff(n: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** n);
}

/**
 * Calls `condition` every intervalMs until it returns a value other than undefined/false, and resolves with
 * that value; fails with `onTimeout()`'s error after timeoutMs, and with the signal's reason once it aborts.
 * Used instead of fixed sleeps when waiting for a process or a port.
 */
export async function pollUntil<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs: number; onTimeout: () => Error; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await condition();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw opts.onTimeout();
    await delay(opts.intervalMs, opts.signal);
  }
}
