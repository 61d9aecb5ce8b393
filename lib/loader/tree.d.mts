// Types of tree.mjs, for the TypeScript modules that ask it where a module's source is.
export declare const treeActive: () => boolean;
export declare function useTree(): void;
export declare const compiledPath: (source: string) => string;
export declare function sourcePath(file: string): string;
export declare function compiledUrl(entry: string): Promise<string>;
