// Types of program.mjs, for the TypeScript modules that ask it for a config's module or a line's source.
export interface Program {
  dir: string;
  /** Entry source → its module's file in `dir`. */
  entries: Record<string, string>;
  /** Chunk file in `dir` → [first line, source module] of each module in it. */
  modules: Record<string, [number, string][]>;
}
export declare function useProgram(program: Program): void;
export declare function programUrl(entry: string): string | undefined;
export declare const programActive: () => boolean;
export declare function programEntryUrl(entry: string): Promise<string>;
export declare function sourceAt(file: string, line: number): string;
export declare function compileProgram(entries: readonly string[]): Promise<Program>;
