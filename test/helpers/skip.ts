// The one way a test says it cannot run here: tests that need a program this machine lacks (the real gcloud,
// psql) are registered with uvu's `test.skip`, so uvu counts them under "Skipped", and the file prints one
// line naming the program. test/run.ts fails the suite when that program is on PATH after all (a skip that
// hides a broken environment is a failure, not a pass).
import { spawnSync } from 'node:child_process';
import { test as uvuTest, type Test } from 'uvu';

/** What a skipping file prints; test/run.ts reads the program name from it. */
export const skipLine = (program: string, what: string) => `SKIPPED (needs ${program}): ${what} — ${program} is not installed`;
export const SKIP_LINE = /SKIPPED \(needs ([\w.-]+)\)/g;

const found = new Map<string, boolean>();

/** Whether `program` is on PATH. */
export function installed(program: string): boolean {
  if (!found.has(program)) found.set(program, spawnSync('which', [program]).status === 0);
  return found.get(program)!;
}

export const hasGcloud = () => installed('gcloud');

const noHook = Object.assign(() => {}, { each: () => {} });

/**
 * `t` (uvu's default test unless given) for tests that need `program`. When it is missing, every test
 * registered through the result is skipped and its hooks never run (they would start what the tests need).
 */
export function testsNeeding<T>(program: string, what: string, t: Test<T> = uvuTest as unknown as Test<T>): Test<T> {
  if (installed(program)) return t;
  console.log(skipLine(program, what));
  const skip = (name?: string) => t.skip(name);
  return Object.assign(skip, { only: skip, skip, before: noHook, after: noHook, run: () => t.run() });
}

/** Tests that drive the real gcloud CLI (against the sandbox). */
export const gcloudTests = <T>(what: string, t?: Test<T>): Test<T> => testsNeeding('gcloud', what, t);
