// Waiting without hanging: an abortable delay and the backoff steps polling loops use.

/** Resolves after `ms`, or at once when the run is interrupted (the caller checks signal.aborted). */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The n-th wait (0-based) of an exponential backoff from `firstMs`, doubling up to `maxMs`. */
export function backoff(n: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** n);
}
