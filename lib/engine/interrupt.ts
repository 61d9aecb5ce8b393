// Ctrl-C, a closed terminal (SIGHUP) and a polite kill (SIGTERM) all stop a run the same way: the first one
// aborts it (running tasks get the signal, nothing new starts, nothing unfinished is recorded); a second one
// exits at once (the exit handlers release the lock and kill the tasks' process groups). Before the run has
// started there is nothing to stop cleanly, so the first signal exits at once. The exit code follows the
// shell's convention, 128 + the signal's number: 130 Ctrl-C, 129 SIGHUP, 143 SIGTERM. listr2's own handler
// would exit 127: we own these signals.
import { setMaxListeners } from 'node:events';

const EXIT_CODES = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_CODES;

export interface Interrupts {
  /** Aborted by the first signal once the run is under way. */
  readonly signal: AbortSignal;
  /** The exit code of the signal that stopped the run, or undefined while none came. */
  exitCode(): number | undefined;
  /** From now on a first signal stops the run instead of exiting. */
  runStarted(note: (text: string) => void): void;
  stop(): void;
}

export function trapInterrupts(io: { stderr: NodeJS.WritableStream; stdout: NodeJS.WritableStream }): Interrupts {
  const controller = new AbortController();
  let first: StopSignal | undefined;
  let note: ((text: string) => void) | undefined;
  const handler = (received: NodeJS.Signals) => {
    const signal = received as StopSignal;
    // A closed terminal fails every later write: the run must still stop cleanly and record truthfully.
    if (signal === 'SIGHUP') for (const stream of [io.stdout, io.stderr]) stream.on('error', () => {});
    if (first) {
      io.stderr.write('\nInterrupted again: exiting now.\n');
      process.exit(EXIT_CODES[first]);
    }
    first = signal;
    if (!note) process.exit(EXIT_CODES[signal]);
    note(`${describe(signal)}: stopping running tasks (Ctrl-C again to exit at once)…`);
    controller.abort();
  };
  for (const signal of Object.keys(EXIT_CODES)) process.on(signal, handler);
  return {
    signal: controller.signal,
    exitCode: () => (first ? EXIT_CODES[first] : undefined),
    runStarted(write) {
      note = write;
    },
    stop() {
      for (const signal of Object.keys(EXIT_CODES)) process.off(signal, handler);
    },
  };
}

const describe = (signal: StopSignal) => (signal === 'SIGINT' ? 'Interrupted' : `Interrupted by ${signal}`);

/**
 * Lets every running command of a run listen to one abort signal without a leak warning. A finite cap, not 0
 * ("unlimited"): Node 20's getMaxListeners throws on an AbortSignal whose cap is 0, and fetch calls it.
 */
export function allowManyListeners(signal: AbortSignal): void {
  setMaxListeners(10_000, signal);
}
