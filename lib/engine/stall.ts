// A promise that can never settle (a task's run() that resolves nothing, a config whose top-level await waits
// forever) leaves Node with nothing left to wait on: it would exit with code 13, without a word. Node says so
// first with 'beforeExit', while the run is still pending: the innermost handler turns the stall into an
// error (the runner fails its stuck tasks, the CLI its current stage) and the run goes on to report it.
export interface Stalls {
  /**
   * Offers each stall to `handler` first, until the returned function is called. The handler returns false
   * when it has nothing stuck to end, and the stall goes to the handler installed before it.
   */
  during(handler: () => boolean): () => void;
}

export function watchStalls(): Stalls & { stop(): void } {
  const handlers: (() => boolean)[] = [];
  const onStall = () => {
    for (let i = handlers.length - 1; i >= 0; i--) if (handlers[i]!()) return;
  };
  process.on('beforeExit', onStall);
  return {
    during(handler) {
      handlers.push(handler);
      return () => {
        const at = handlers.lastIndexOf(handler);
        if (at >= 0) handlers.splice(at, 1);
      };
    },
    stop: () => process.off('beforeExit', onStall),
  };
}
