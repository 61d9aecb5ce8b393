// Runs synthetic task graphs through the real runner, in-process, in a temp state folder, and records
// every runner event so tests assert order and concurrency from events (never from sleeps).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EnvName, TaskArgs, TaskDef } from '../../lib/engine/types.js';
import { createGraph, topoOrder, closure } from '../../lib/engine/graph.js';
import { Fingerprinter, loadSalt, recordsDir, StateStore } from '../../lib/engine/cache.js';
import { createRuntime } from '../../lib/engine/context.js';
import { createPrompt } from '../../lib/engine/prompt.js';
import { runPlan, type RunEvent, type RunOptions, type RunSummary } from '../../lib/engine/runner.js';

export interface Sandbox {
  dir: string;
  stateDir: string;
  cleanup(): void;
}

export function tempDir(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-engine-'));
  return { dir, stateDir: path.join(dir, '.task-state'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface RunSpec {
  tasks: TaskDef<any>[];
  targets?: string[];
  root: string;
  stateDir: string;
  env?: EnvName;
  vars?: Record<string, string>;
  project?: string;
  region?: string;
  args?: TaskArgs;
  only?: boolean;
  onEvent?: (event: RunEvent) => void;
  options?: Partial<Pick<RunOptions, 'concurrency' | 'continueOnError' | 'force' | 'refresh' | 'dryRun' | 'signal'>>;
}

export interface RunOutcome extends RunSummary {
  events: RunEvent[];
  byName: Map<string, RunSummary['results'][number]>;
}

export async function runTasks(spec: RunSpec): Promise<RunOutcome> {
  const graph = createGraph(spec.tasks);
  const targets = spec.targets ?? spec.tasks.map((t) => t.name);
  const order = topoOrder(graph, spec.only ? new Set(targets) : closure(graph, targets));
  const env = spec.env ?? 'development';
  const project = spec.project ?? 'demo';
  const region = spec.region ?? 'us-central1';
  const named = new Set(targets);
  const runtime = createRuntime({
    env,
    vars: { ...spec.vars },
    paths: { root: spec.root, envDir: spec.root, stateDir: spec.stateDir },
    dryRun: !!spec.options?.dryRun,
    verbose: false,
    prompt: createPrompt({ yes: false }),
    // A generic platform: the target is a project and region, nothing else is added to the context.
    platform: { target: { project, region }, fields: () => ({ project, region }), taskFields: () => ({}) },
    argsFor: (t) => (named.has(t) ? spec.args ?? {} : {}),
    commandFor: (rest) => `pnpm task ${rest} --env=${env}`,
  });
  const events: RunEvent[] = [];
  const summary = await runPlan({
    graph,
    order,
    concurrency: 4,
    store: new StateStore(recordsDir(spec.stateDir, project, env)),
    fingerprinter: new Fingerprinter({ salt: loadSalt(spec.stateDir), root: spec.root }),
    runtime,
    stateDir: spec.stateDir,
    onEvent: (e) => {
      events.push(e);
      spec.onEvent?.(e);
    },
    ...spec.options,
  });
  return { ...summary, events, byName: new Map(summary.results.map((r) => [r.name, r])) };
}

/** A promise plus its resolve/reject, to hold a task until the test lets it go. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ([resolve, reject] = [res, rej]));
  return { promise, resolve, reject };
}

/** Resolves when an event matching `match` is emitted (or was already); rejects after `timeoutMs`. */
export function eventWaiter() {
  const seen: RunEvent[] = [];
  const waiting: { match: (e: RunEvent) => boolean; resolve: (e: RunEvent) => void }[] = [];
  return {
    onEvent(e: RunEvent) {
      seen.push(e);
      for (const w of [...waiting]) {
        if (w.match(e)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(e);
        }
      }
    },
    waitFor(match: (e: RunEvent) => boolean, timeoutMs = 10_000): Promise<RunEvent> {
      const already = seen.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a runner event')), timeoutMs);
        waiting.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    seen,
  };
}

export const started = (task: string) => (e: RunEvent) => e.type === 'start' && e.task === task;
export const ended = (task: string) => (e: RunEvent) => e.type === 'end' && e.result.name === task;

/** A no-op task definition. */
export const task = (name: string, deps: string[] = [], run: TaskDef<any>['run'] = async () => {}, extra: Partial<TaskDef<any>> = {}): TaskDef<any> => ({
  name,
  description: name,
  deps,
  run,
  ...extra,
});
