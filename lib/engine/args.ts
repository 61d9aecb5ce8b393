// The command line: `pnpm task <names...> [flags] [-- task args]`. Flag names follow make/Task/turbo.
// Every mistake is a UsageError (exit 2) that lists the valid flags.
import * as path from 'node:path';
import type { EnvName, TaskArgs } from './types.js';
import type { PlatformFlag } from './platform.js';
import { UsageError } from './errors.js';
import { suggest } from './graph.js';

export interface CliOptions {
  targets: string[];
  /** Arguments after `--`, for the tasks named on the command line. */
  taskArgs: TaskArgs;
  env?: EnvName;
  /** The platform's own boolean flags that were given (`--sandbox` → { sandbox: true }). */
  platform: Record<string, boolean>;
  dryRun: boolean;
  concurrency?: number;
  continueOnError: boolean;
  force: boolean;
  forceAll: boolean;
  only: boolean;
  refresh: boolean;
  yes: boolean;
  json: boolean;
  verbose: boolean;
  list: boolean;
  all: boolean;
  graph?: 'mermaid' | 'dot';
  config?: string;
  help: boolean;
  version: boolean;
  clearCache: boolean;
  unlock: boolean;
  lockTimeoutMs: number;
}

type BoolKey = { [K in keyof CliOptions]-?: CliOptions[K] extends boolean ? K : never }[keyof CliOptions];

/** Flag → option, with its help text. `value` flags take `--flag=x` or `--flag x`. */
const FLAGS: { names: string[]; key: keyof CliOptions; value?: string; help: string }[] = [
  { names: ['--env'], key: 'env', value: 'development|production', help: 'environment (default: NODE_ENV or development)' },
  { names: ['-n', '--dry-run', '--dry'], key: 'dryRun', help: 'show the plan and why each task would run; change nothing' },
  { names: ['-j', '--concurrency'], key: 'concurrency', value: 'N', help: 'run at most N tasks at once (default 4)' },
  { names: ['-k', '--continue'], key: 'continueOnError', help: 'after a failure, keep running tasks that do not depend on it' },
  { names: ['-f', '--force'], key: 'force', help: 'rerun the named tasks even if cached' },
  { names: ['--force-all'], key: 'forceAll', help: 'rerun the named tasks and all their dependencies' },
  { names: ['--only'], key: 'only', help: 'run the named tasks without their dependencies (uses recorded outputs)' },
  { names: ['--refresh'], key: 'refresh', help: 're-verify cached tasks against the cloud (their live check)' },
  { names: ['-y', '--yes'], key: 'yes', help: 'confirm destructive steps in advance (needed without a terminal)' },
  { names: ['--json'], key: 'json', help: 'machine-readable summary on stdout (the UI goes to stderr)' },
  { names: ['-v', '--verbose'], key: 'verbose', help: 'show commands, their output, debug lines and stack traces' },
  { names: ['-l', '--list'], key: 'list', help: 'list the tasks (with --json: as JSON; with --all: hidden ones too)' },
  { names: ['--all'], key: 'all', help: 'with --list: include hidden tasks' },
  { names: ['--graph'], key: 'graph', value: 'mermaid|dot', help: 'print the task graph (of the named tasks, or all) as mermaid (default) or dot' },
  { names: ['--config'], key: 'config', value: 'file', help: 'config file (default ./tasks.config.ts)' },
  { names: ['--clear-cache'], key: 'clearCache', help: 'forget recorded runs (of the named tasks, or all) so they run again' },
  { names: ['--unlock'], key: 'unlock', help: 'remove the lock of a crashed run of this project/env (asks first; --yes without a terminal)' },
  { names: ['--lock-timeout'], key: 'lockTimeoutMs', value: 'seconds', help: 'wait up to this long for another run of the same project/env to finish' },
  { names: ['-h', '--help'], key: 'help', help: 'this help' },
  { names: ['--version'], key: 'version', help: 'print the version' },
];

const byName = new Map(FLAGS.flatMap((f) => f.names.map((n) => [n, f] as const)));
/** Flags that take an optional value (`--graph` alone means mermaid). */
const OPTIONAL_VALUE: ReadonlySet<keyof CliOptions> = new Set(['graph']);

export function usage(platformFlags: readonly PlatformFlag[] = []): string {
  const rows = [
    ...FLAGS.map((f) => [f.names.join(', ') + (!f.value ? '' : OPTIONAL_VALUE.has(f.key) ? `[=${f.value}]` : ` <${f.value}>`), f.help]),
    ...platformFlags.map((f) => [`--${f.name}`, f.help]),
  ];
  const width = Math.max(...rows.map(([a]) => a!.length));
  return [
    'Usage: pnpm task <task...> [flags] [-- task args]',
    '',
    'Runs the named tasks and, first, everything they depend on (in parallel where the graph allows),',
    'skipping tasks whose inputs did not change since they last succeeded.',
    '',
    'Flags:',
    ...rows.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`),
    '',
    'Task arguments follow `--` as --name=value or --flag: pnpm task rollback:api-gateway -- --to=api-gateway-00003-abc',
    'Exit codes: 0 ok, 1 task or config failure, 2 usage error, 130 interrupted (129 SIGHUP, 143 SIGTERM).',
    '',
  ].join('\n');
}

const validFlags = (extra: readonly string[] = []) => [...FLAGS.flatMap((f) => f.names), ...extra].join(' ');

type Token = { kind: 'rest'; args: readonly string[] } | { kind: 'target'; arg: string } | { kind: 'flag'; name: string; value: string | undefined; arg: string };

/** The command line as targets, flags with their values, and what follows `--`. */
function* tokens(argv: readonly string[], extra: readonly string[]): Generator<Token> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      yield { kind: 'rest', args: argv.slice(i + 1) };
      return;
    }
    if (!arg.startsWith('-') || arg === '-') {
      yield { kind: 'target', arg };
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    // -j4 and grouped short booleans (-ky)
    if (/^-j\d+$/.test(name)) [name, value] = ['-j', name.slice(2)];
    else if (/^-[a-zA-Z]{2,}$/.test(name)) {
      for (const letter of name.slice(1)) {
        if (byName.get(`-${letter}`)?.value) throw new UsageError(`In ${arg}: -${letter} takes a value (write -${letter} N).`, `Valid flags: ${validFlags(extra)}`);
        yield { kind: 'flag', name: `-${letter}`, value: undefined, arg };
      }
      continue;
    }
    const flag = byName.get(name);
    if (flag && OPTIONAL_VALUE.has(flag.key) && value === undefined && /^(mermaid|dot)$/.test(argv[i + 1] ?? '')) value = argv[++i];
    if (flag?.value && value === undefined && !OPTIONAL_VALUE.has(flag.key)) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value (${flag.value}).`, `Valid flags: ${validFlags(extra)}`);
    }
    yield { kind: 'flag', name, value, arg };
  }
}

/** The config file a run uses: the one given, else tasks.config.ts in `cwd`. */
export const configFileOf = (config: string | undefined, cwd: string): string => path.resolve(cwd, config ?? 'tasks.config.ts');

/**
 * The config file a command line names, read before the platform and its flags are known (they take no
 * value, so none can swallow a --config). A command line that does not parse names the default: its run
 * stops at the usage error before loading any config.
 */
export function configFileOfArgv(argv: readonly string[], cwd: string): string {
  let config: string | undefined;
  try {
    for (const token of tokens(argv, [])) if (token.kind === 'flag' && byName.get(token.name)?.key === 'config' && token.value?.trim()) config = token.value;
  } catch {
    // reported by the run itself
  }
  return configFileOf(config, cwd);
}

export function parseArgs(argv: readonly string[], platformFlags: readonly PlatformFlag[] = []): CliOptions {
  const extra = platformFlags.map((f) => `--${f.name}`);
  const opts: CliOptions = {
    targets: [],
    taskArgs: {},
    platform: {},
    dryRun: false,
    continueOnError: false,
    force: false,
    forceAll: false,
    only: false,
    refresh: false,
    yes: false,
    json: false,
    verbose: false,
    list: false,
    all: false,
    help: false,
    version: false,
    clearCache: false,
    unlock: false,
    lockTimeoutMs: 0,
  };
  for (const token of tokens(argv, extra)) {
    if (token.kind === 'rest') opts.taskArgs = parseTaskArgs(token.args);
    else if (token.kind === 'target') opts.targets.push(token.arg);
    else setFlag(opts, token.name, token.value, token.arg, extra);
  }
  return opts;
}

function setFlag(opts: CliOptions, name: string, value: string | undefined, arg: string, extra: readonly string[]): void {
  if (extra.includes(name)) {
    if (value !== undefined) throw new UsageError(`${name} takes no value (got ${arg}).`, `Valid flags: ${validFlags(extra)}`);
    opts.platform[name.slice(2)] = true;
    return;
  }
  const flag = byName.get(name);
  if (!flag) {
    const close = suggest(name, [...byName.keys(), ...extra].filter((n) => n.startsWith('--')));
    throw new UsageError(`Unknown flag ${arg}.${close.length ? ` Did you mean ${close.join(', ')}?` : ''}`, `Valid flags: ${validFlags(extra)}. See pnpm task --help.`);
  }
  if (!flag.value) {
    if (value !== undefined) throw new UsageError(`${name} takes no value (got ${arg}).`, `Valid flags: ${validFlags(extra)}`);
    opts[flag.key as BoolKey] = true;
    return;
  }
  switch (flag.key) {
    case 'env':
      if (value !== 'development' && value !== 'production') {
        throw new UsageError(`--env must be development or production (got "${value}").`);
      }
      opts.env = value;
      break;
    case 'concurrency': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a whole number of at least 1 (got "${value}").`);
      opts.concurrency = n;
      break;
    }
    case 'lockTimeoutMs': {
      const seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--lock-timeout needs a number of seconds (got "${value}").`);
      opts.lockTimeoutMs = seconds * 1000;
      break;
    }
    case 'graph':
      if (value !== undefined && value !== 'mermaid' && value !== 'dot') throw new UsageError(`--graph takes mermaid or dot (got "${value}").`);
      opts.graph = (value as 'mermaid' | 'dot' | undefined) ?? 'mermaid';
      break;
    case 'config':
      if (!value?.trim()) throw new UsageError(`${name} needs a file name (got an empty value).`, 'Example: --config=tasks.config.ts (the default when --config is left out).');
      opts.config = value;
      break;
    default:
      throw new Error(`unhandled flag ${name}`);
  }
}

/** Whether --json was asked for, even on a command line that does not parse: its error is then JSON too. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** `--to=rev` → { to: 'rev' }, `--yes` → { yes: true }. Nothing else is accepted: one documented form. */
export function parseTaskArgs(args: readonly string[]): TaskArgs {
  const out: TaskArgs = {};
  for (const arg of args) {
    const match = /^--([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      throw new UsageError(`Task argument "${arg}" is not in the form --name=value or --flag.`, 'Example: pnpm task rollback:api-gateway -- --to=api-gateway-00003-abc');
    }
    out[match[1]!] = match[2] ?? true;
  }
  return out;
}
