// What the launcher of a compiled program (lib/loader) tells the modules it runs, through one global: the
// engine imports nothing of the loader, and runs the same without one (under tsx or module hooks).
export interface RunningProgram {
  /** The config compiled into the program, loaded on first call; rejects for a config that was not compiled in. */
  config(file: string): Promise<unknown>;
  /** The source module of a line of the program's file; any other file is its own source. */
  sourceAt(file: string, line: number): string;
}

const KEY = Symbol.for('gcp-tasks.program');

export const runningProgram = (): RunningProgram | undefined => (globalThis as { [KEY]?: RunningProgram })[KEY];
