// The task graph: lookups, cycle detection, the closure of the requested targets, a stable topological
// order, "did you mean" suggestions, the critical path of a finished run, and mermaid/dot renderings.
// Pure functions over plain data: no I/O, so --list/--graph and the planner stay fast.
import type { TaskDef } from './types.js';
import { UsageError, UserError } from './errors.js';

export interface TaskGraph {
  /** Tasks by name, in declaration order. */
  readonly tasks: ReadonlyMap<string, TaskDef>;
  deps(name: string): readonly string[];
}

/** Builds the graph of already validated task definitions (unique names, known deps). */
export function createGraph(tasks: readonly TaskDef[]): TaskGraph {
  const byName = new Map(tasks.map((t) => [t.name, t] as const));
  return { tasks: byName, deps: (name) => byName.get(name)?.deps ?? [] };
}

/** The first cycle found, as a closed path (`['a', 'b', 'a']`), or null. Iterative so deep graphs cannot overflow. */
export function findCycle(graph: TaskGraph): string[] | null {
  const state = new Map<string, 'active' | 'done'>();
  for (const root of graph.tasks.keys()) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    state.set(root, 'active');
    path.push(root);
    while (stack.length) {
      const frame = stack[stack.length - 1]!;
      const deps = graph.deps(frame.name);
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        const seen = state.get(dep);
        if (seen === 'active') return [...path.slice(path.indexOf(dep)), dep];
        if (seen === undefined) {
          state.set(dep, 'active');
          path.push(dep);
          stack.push({ name: dep, next: 0 });
        }
      } else {
        state.set(frame.name, 'done');
        path.pop();
        stack.pop();
      }
    }
  }
  return null;
}

/** Throws a UserError naming the cycle as `a → b → c → a`. */
export function assertAcyclic(graph: TaskGraph): void {
  const cycle = findCycle(graph);
  if (cycle) {
    throw new UserError(`Dependency cycle: ${cycle.join(' → ')}`, {
      hint: 'A task cannot depend on itself, directly or through other tasks. Remove one of these deps.',
    });
  }
}

/** The targets and everything they depend on, transitively. */
export function closure(graph: TaskGraph, targets: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...graph.deps(name));
  }
  return seen;
}

/**
 * A topological order of `names` (deps first). Ties keep declaration order, so --list, --dry-run and the
 * renderer show the same stable sequence. Deps outside `names` are ignored (--only plans).
 */
export function topoOrder(graph: TaskGraph, names: ReadonlySet<string>): string[] {
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const name of graph.tasks.keys()) {
    if (!names.has(name)) continue;
    const deps = graph.deps(name).filter((d) => names.has(d));
    waiting.set(name, deps.length);
    for (const d of deps) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(name);
  }
  const position = new Map([...graph.tasks.keys()].map((n, i) => [n, i]));
  const ready = [...waiting].filter(([, n]) => n === 0).map(([name]) => name);
  const order: string[] = [];
  while (ready.length) {
    // Smallest declaration index first; a linear scan is fine for the sizes a config has.
    let best = 0;
    for (let i = 1; i < ready.length; i++) if (position.get(ready[i]!)! < position.get(ready[best]!)!) best = i;
    const name = ready.splice(best, 1)[0]!;
    order.push(name);
    for (const dependent of dependents.get(name) ?? []) {
      const left = waiting.get(dependent)! - 1;
      waiting.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  return order;
}

/** Throws a UsageError for every unknown name at once, each with the closest known names. */
export function assertKnown(graph: TaskGraph, names: readonly string[]): void {
  const unknown = names.filter((n) => !graph.tasks.has(n));
  if (!unknown.length) return;
  const known = [...graph.tasks.keys()];
  const lines = unknown.map((n) => {
    const close = suggest(n, known);
    return close.length ? `Unknown task "${n}". Did you mean ${close.map((c) => `"${c}"`).join(', ')}?` : `Unknown task "${n}".`;
  });
  throw new UsageError(lines.join('\n'), 'Run `pnpm task --list` to see every task.');
}

/** Up to 3 known names closest to `name`: by edit distance, and names sharing its group or verb. */
export function suggest(name: string, known: readonly string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored = known
    .map((k) => {
      let score = editDistance(name, k);
      if (score > limit && (k.startsWith(name) || k.includes(name) || name.includes(k))) score = limit;
      return { k, score };
    })
    .filter((s) => s.score <= limit)
    .sort((a, b) => a.score - b.score || a.k.localeCompare(b.k));
  return scored.slice(0, max).map((s) => s.k);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The longest chain of tasks by duration among `order` (deps first): the lower bound of the wall time
 * with unlimited concurrency. Used by the summary and by the benchmark's wall/critical-path ratio.
 */
export function criticalPath(
  graph: TaskGraph,
  order: readonly string[],
  durationOf: (name: string) => number,
): { tasks: string[]; ms: number } {
  const inPlan = new Set(order);
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  for (const name of order) {
    let start = 0;
    let from: string | undefined;
    for (const dep of graph.deps(name)) {
      if (!inPlan.has(dep)) continue;
      const f = finish.get(dep)!;
      if (from === undefined || f > start) {
        start = f;
        from = dep;
      }
    }
    finish.set(name, start + durationOf(name));
    via.set(name, from);
  }
  let end: string | undefined;
  for (const [name, f] of finish) if (end === undefined || f > finish.get(end)!) end = name;
  const tasks: string[] = [];
  for (let n = end; n !== undefined; n = via.get(n)) tasks.unshift(n);
  return { tasks, ms: end === undefined ? 0 : finish.get(end)! };
}

/** Mermaid flowchart (edges point from a dependency to its dependent). */
export function toMermaid(graph: TaskGraph, order: readonly string[]): string {
  const id = new Map(order.map((n, i) => [n, `t${i}`]));
  const lines = ['flowchart LR'];
  for (const name of order) lines.push(`  ${id.get(name)}["${name.replaceAll('"', '#quot;')}"]`);
  for (const name of order) {
    for (const dep of graph.deps(name)) if (id.has(dep)) lines.push(`  ${id.get(dep)} --> ${id.get(name)}`);
  }
  return lines.join('\n') + '\n';
}

/** Graphviz dot (edges point from a dependency to its dependent). */
export function toDot(graph: TaskGraph, order: readonly string[]): string {
  const q = (s: string) => JSON.stringify(s);
  const inPlan = new Set(order);
  const lines = ['digraph tasks {', '  rankdir=LR;'];
  for (const name of order) lines.push(`  ${q(name)};`);
  for (const name of order) {
    for (const dep of graph.deps(name)) if (inPlan.has(dep)) lines.push(`  ${q(dep)} -> ${q(name)};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
