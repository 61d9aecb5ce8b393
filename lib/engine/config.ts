// Loads a config file (from the compiled program, or as a plain dynamic import under TypeScript hooks) and validates it before
// anything runs: the shape of every task, unique names, known deps, no cycle. Every problem is reported at
// once, each with its path. (What a platform adds to the config, it validates itself.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { runningProgram } from './program.js';
import type { ConfigDef, TaskDef } from './types.js';
import { UserError } from './errors.js';
import { assertAcyclic, createGraph, suggest, type TaskGraph } from './graph.js';
import { recordTaskSource } from './task-source.js';

export interface LoadedConfig {
  config: ConfigDef;
  file: string;
  /** The config's folder: globs, env files and state are relative to it. */
  root: string;
  graph: TaskGraph;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message: 'must be a function' });
const names = z.array(z.string().min(1));

// Strict: a misspelt key (`dep:` for `deps:`) is an error, not a silently ignored field.
// A new TaskDef field in types.ts must be added here too.
const taskSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._@/+-]*$/, 'task names use letters, digits and : . _ - @ / +'),
  description: z.string(),
  deps: names.optional(),
  inputs: z
    .strictObject({ files: z.union([z.array(z.string()), fn]).optional(), env: names.optional(), config: fn.optional() })
    .optional(),
  always: z.boolean().optional(),
  keepRecordOnFailure: z.boolean().optional(),
  destructive: z.union([z.boolean(), fn]).optional(),
  interactive: z.boolean().optional(),
  hidden: z.boolean().optional(),
  local: z.union([z.boolean(), fn]).optional(),
  args: z.record(z.string(), z.string()).optional(),
  invalidates: z.union([names, fn]).optional(),
  check: fn.optional(),
  preflight: fn.optional(),
  run: fn,
});

const configSchema = z.looseObject({
  tasks: z.array(z.unknown()),
  envSchema: z.custom((v) => !!v && typeof (v as { safeParse?: unknown }).safeParse === 'function', { message: 'must be a zod schema' }).optional(),
  concurrency: z.number().int().min(1).optional(),
});

/** `tasks[3] (buckets:create).deps[0]`: zod paths as a reader wants them. */
export function formatPath(segments: readonly PropertyKey[], label?: (segments: readonly PropertyKey[], i: number) => string | undefined): string {
  let out = '';
  segments.forEach((s, i) => {
    out += typeof s === 'number' ? `[${s}]` : `${out ? '.' : ''}${String(s)}`;
    const extra = label?.(segments, i);
    if (extra) out += ` (${extra})`;
  });
  return out || '(root)';
}

export async function loadConfig(file: string, opts: { verbose?: boolean } = {}): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) {
    throw new UserError(`Config file not found: ${abs}`, {
      hint: 'Run from the folder holding tasks.config.ts, or pass --config <file>.',
    });
  }
  let mod: { default?: unknown };
  try {
    // A CLI run from a compiled program loads the config compiled into it: one copy of every module they share.
    const program = runningProgram();
    mod = (await (program ? program.config(abs) : import(pathToFileURL(abs).href))) as { default?: unknown };
  } catch (error) {
    const message = opts.verbose && error instanceof Error ? error.stack : (error as Error)?.message ?? String(error);
    throw new UserError(`Cannot load ${path.basename(abs)}: ${message}`, { hint: 'Fix the error in the config file (run with --verbose for the stack).' });
  }
  const config = validateConfig(mod.default, path.basename(abs));
  // A task object not made by defineTask is fingerprinted as the config and everything it imports.
  for (const task of config.tasks) recordTaskSource(task, abs);
  return { config, file: abs, root: path.dirname(abs), graph: createGraph(config.tasks) };
}

/** Throws one UserError listing every problem of the config's shape and task graph. */
export function validateConfig(value: unknown, label = 'the config'): ConfigDef {
  const problems: string[] = [];
  if (value === undefined) {
    throw new UserError(`${label} has no default export.`, { hint: 'End it with `export default defineConfig({ tasks: [...] })`.' });
  }
  const shape = configSchema.safeParse(value);
  if (!shape.success) {
    problems.push(...shape.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  } else {
    const tasks = shape.data.tasks;
    const taskName = (i: number) => (tasks[i] as { name?: unknown })?.name;
    const label = (segments: readonly PropertyKey[], i: number) =>
      i === 1 && segments[0] === 'tasks' && typeof taskName(segments[1] as number) === 'string' ? String(taskName(segments[1] as number)) : undefined;
    tasks.forEach((task, i) => {
      const result = taskSchema.safeParse(task);
      if (!result.success) problems.push(...result.error.issues.map((issue) => `${formatPath(['tasks', i, ...issue.path], label)}: ${issue.message}`));
    });
    problems.push(...graphProblems(tasks, label));
  }
  if (problems.length) {
    throw new UserError(`Invalid config ${label}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { hint: 'Fix these in the config; nothing was run.' });
  }
  const config = value as ConfigDef;
  assertAcyclic(createGraph(config.tasks));
  return config;
}

/** Duplicate names and references to unknown tasks (checked on whatever parts of the tasks are well-formed). */
function graphProblems(raw: unknown[], label: (s: readonly PropertyKey[], i: number) => string | undefined): string[] {
  const tasks = raw.map((t) => (t && typeof t === 'object' ? (t as Partial<TaskDef>) : {}));
  const problems: string[] = [];
  const first = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (typeof t.name !== 'string') return;
    if (first.has(t.name)) problems.push(`${formatPath(['tasks', i, 'name'], label)}: duplicate task name (also tasks[${first.get(t.name)}])`);
    else first.set(t.name, i);
  });
  const known = [...first.keys()];
  const unknownRef = (name: string) => {
    const close = suggest(name, known);
    return `unknown task "${name}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}`;
  };
  tasks.forEach((t, i) => {
    for (const key of ['deps', 'invalidates'] as const) {
      const refs = t[key];
      if (!Array.isArray(refs)) continue;
      refs.forEach((d, j) => typeof d !== 'string' || first.has(d) || problems.push(`${formatPath(['tasks', i, key, j], label)}: ${unknownRef(d)}`));
    }
  });
  return problems;
}
