// Matches a request (method, host, raw path) against the routes of every API module.
import type { Route } from './types.js';

interface CompiledRoute {
  route: Route;
  regex: RegExp;
  names: string[];
  /** Literal characters in the pattern: the most specific match wins (`{s}:enable` beats `{s}`); a host predicate breaks ties. */
  specificity: number;
}

export type RouteMatch = { route: Route; params: Record<string, string> } | { route: null; pathKnown: boolean };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  let specificity = 0;
  const source = route.path.replace(/\{(\w+)(\*?)\}|([^{]+)/g, (_m, name: string | undefined, rest: string, literal: string | undefined) => {
    if (literal !== undefined) {
      specificity += literal.length;
      return escape(literal);
    }
    names.push(name!);
    return rest ? '(.+)' : '([^/]+?)';
  });
  return { route, regex: new RegExp(`^${source}$`), names, specificity: specificity + (route.host ? 0.5 : 0) };
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(routes: Route[]) {
    this.compiled = routes.map(compile);
  }

  match(method: string, host: string, rawPath: string): RouteMatch {
    let best: { c: CompiledRoute; m: RegExpMatchArray } | undefined;
    let pathKnown = false;
    for (const c of this.compiled) {
      if (c.route.host && !c.route.host(host)) continue;
      const m = rawPath.match(c.regex);
      if (!m) continue;
      pathKnown = true;
      if (c.route.method !== method) continue;
      if (!best || c.specificity > best.c.specificity) best = { c, m };
    }
    if (!best) return { route: null, pathKnown };
    const params: Record<string, string> = {};
    best.c.names.forEach((name, i) => (params[name] = decode(best!.m[i + 1]!)));
    return { route: best.c.route, params };
  }
}
