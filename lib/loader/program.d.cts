// Types of program.cjs, for the tests that compile and run programs.
export interface Program {
  /** The program's folder, its script and the script's V8 code cache. */
  dir: string;
  file: string;
  cacheFile: string;
  main: string;
  configs: string[];
  /** [first line, source module] of each module in the script. */
  modules: [number, string][];
  inputs: Record<string, string>;
}
export declare function compileProgram(main: string, configs?: readonly string[]): Promise<Program>;
export declare function runProgram(program: Program, opts?: { sourceMaps?: boolean }): Promise<void>;
