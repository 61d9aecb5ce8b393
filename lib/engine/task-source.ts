// Which module defines each task, so its code fingerprint can be that module and what it imports. defineTask
// records its caller's file; loading a config assigns the config file to tasks made any other way.
import { fileURLToPath } from 'node:url';
import { runningProgram } from './program.js';

const sources = new WeakMap<object, string>();
const files = new Set<string>();

/** The file of the function `depth` frames above the caller of callerFile (1 = the caller's caller). */
export function callerFile(depth: number): string | undefined {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, frames) => frames;
    const frames = new Error().stack as unknown as NodeJS.CallSite[];
    const frame = frames[depth + 1];
    const name = frame?.getFileName();
    if (!name) return undefined;
    const file = name.startsWith('file:') ? fileURLToPath(name) : name.startsWith('/') ? name : undefined;
    return file && (runningProgram()?.sourceAt(file, frame!.getLineNumber() ?? 0) ?? file);
  } finally {
    Error.prepareStackTrace = original;
  }
}

export function recordTaskSource(task: object, file: string | undefined): void {
  if (file && !sources.has(task)) sources.set(task, file), files.add(file);
}

/** Every defining module recorded in this process: the entry points of one module graph for all tasks. */
export const sourceFiles = (): string[] => [...files];

/** The defining module's path, or undefined for a task built outside defineTask and outside any config. */
export const taskSource = (task: object): string | undefined => sources.get(task);
