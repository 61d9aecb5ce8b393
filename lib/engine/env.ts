// Loads the env files of one environment and validates them, before anything runs.
// Precedence, highest first: forced (the platform's, e.g. a sandbox's project) > the process environment (so CI
// can override) > `.env.<env>.local` > `.env.<env>` > `.env` > defaults (the platform's).
// dotenv parses the files (it keeps `#` inside quotes, a trailing `=`, apostrophes and a last line without
// newline); a line dotenv would silently drop is reported instead, with its file and line number only (the
// line may hold a secret pasted in the wrong place, so none of its content is shown). A key defined twice
// in one file is refused: dotenv would use the last one while a person (and the env-file writer) reads the
// first. The values used are the values the schema validated (its trimming included), never the raw ones.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import type { z } from 'zod';
import { UserError } from './errors.js';
import { isSecretKey, registerSecret } from './redact.js';
import type { EnvName } from './types.js';

export interface LoadEnvOptions {
  dir: string;
  env: EnvName;
  processEnv: NodeJS.ProcessEnv;
  schema?: z.ZodType<Record<string, string>>;
  defaults?: Record<string, string>;
  forced?: Record<string, string>;
  /** Where defaults and forced values come from, for messages. */
  overlaySource?: string;
}

export interface LoadedEnv {
  vars: Record<string, string>;
  /** The files read, lowest precedence first. */
  files: string[];
  /** Keys whose value was a `${SECRET_*}` placeholder: not loaded, Secret Manager provides them. */
  placeholders: string[];
  /** Where each value came from: an env file's name (`.env.production.local`), `the environment`, or the sandbox. */
  sources: Record<string, string>;
}

const SECRET_PLACEHOLDER = /^\$\{SECRET_[A-Z0-9_]+\}$/;

export function envFileNames(env: EnvName): string[] {
  return ['.env', `.env.${env}`, `.env.${env}.local`];
}

export function loadEnv(opts: LoadEnvOptions): LoadedEnv {
  const problems: string[] = [];
  const source: Record<string, string> = {};
  const fromFiles: Record<string, string> = {};
  const placeholders = new Set<string>();
  const files: string[] = [];

  for (const name of envFileNames(opts.env)) {
    const file = path.join(opts.dir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      problems.push(`${name}: cannot be read (${(error as Error).message})`);
      continue;
    }
    files.push(file);
    problems.push(...lintEnvText(text).map((p) => `${name}:${p.line}: ${p.message}`));
    for (const [key, value] of Object.entries(parse(text))) {
      if (SECRET_PLACEHOLDER.test(value.trim())) {
        placeholders.add(key);
        delete fromFiles[key];
        continue;
      }
      placeholders.delete(key);
      fromFiles[key] = value;
      source[key] = name;
    }
  }

  const fromProcess: Record<string, string> = {};
  for (const [key, value] of Object.entries(opts.processEnv)) {
    if (value === undefined || SECRET_PLACEHOLDER.test(value.trim())) continue;
    fromProcess[key] = value;
    source[key] = 'the environment';
  }
  for (const key of Object.keys(opts.forced ?? {})) source[key] = opts.overlaySource ?? 'the platform';
  for (const key of Object.keys(opts.defaults ?? {})) source[key] ??= `${opts.overlaySource ?? 'the platform'} defaults`;

  let vars: Record<string, string> = { ...opts.defaults, ...fromFiles, ...fromProcess, ...opts.forced };
  for (const [key, value] of Object.entries(vars)) if (isSecretKey(key)) registerSecret(value);

  if (opts.schema && !problems.length) {
    const result = opts.schema.safeParse(vars);
    // What was validated is what is used: ' digitwin-sandbox' checked trimmed must not reach gcloud raw.
    if (result.success) vars = { ...vars, ...result.data };
    else {
      for (const issue of result.error.issues) {
        const key = issue.path.join('.') || '(env)';
        const where = source[key] ? ` (from ${source[key]})` : '';
        problems.push(`${key}: ${describeIssue(issue, vars[key])}${where}`);
      }
    }
  }

  if (problems.length) {
    const looked = envFileNames(opts.env).join(', ');
    throw new UserError(`Invalid environment for --env ${opts.env}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: `Fix the values in ${looked} (in ${opts.dir}) or set them in the environment; nothing was run.`,
    });
  }
  return { vars, files, placeholders: [...placeholders], sources: source };
}

function describeIssue(issue: z.core.$ZodIssue, value: string | undefined): string {
  if (value === undefined) return `is required but not set`;
  // Never echo a secret value back.
  return issue.message;
}

/** One `KEY=value` of an env file: its key and the lines it spans (a quoted value may span several), 0-based. */
export interface EnvEntry { key: string; first: number; last: number }

/**
 * Reads an env file's lines the way dotenv does: the entries (a multi-line quoted value is one entry),
 * and the lines dotenv would silently ignore or misread (not a comment, not blank, not `KEY=value`, an
 * invalid key, a quote that never closes). Problems name the line only, never its content.
 */
export function scanEnvLines(lines: readonly string[]): { entries: EnvEntry[]; problems: { line: number; message: string }[] } {
  const entries: EnvEntry[] = [];
  const problems: { line: number; message: string }[] = [];
  let open: { quote: string; entry: EnvEntry } | null = null;
  lines.forEach((raw, index) => {
    if (open) {
      open.entry.last = index;
      if (closesQuote(raw, open.quote)) open = null;
      return;
    }
    const line = (index === 0 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      problems.push({ line: index + 1, message: 'not a KEY=value line (its content is not shown: it may be a value)' });
      return;
    }
    const [, , key, rest] = match;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      problems.push({ line: index + 1, message: 'not a valid variable name before the = (letters, digits and _; not starting with a digit)' });
      return;
    }
    const entry = { key, first: index, last: index };
    entries.push(entry);
    const quote = rest[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !closesQuote(rest.slice(1), quote)) open = { quote, entry };
  });
  if (open) problems.push({ line: (open as { entry: EnvEntry }).entry.first + 1, message: 'the quote opened here is never closed' });
  const seen = new Map<string, number>();
  for (const { key, first } of entries) {
    const earlier = seen.get(key);
    if (earlier !== undefined) problems.push({ line: first + 1, message: `${key} is already defined on line ${earlier + 1}: keep one of them (dotenv would use this one)` });
    else seen.set(key, first);
  }
  return { entries, problems: problems.sort((a, b) => a.line - b.line) };
}

/** The problems of scanEnvLines() for a whole file's text. */
export function lintEnvText(text: string): { line: number; message: string }[] {
  return scanEnvLines(text.split(/\r?\n/)).problems;
}

function closesQuote(text: string, quote: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (text[i] === quote) return true;
  }
  return false;
}
