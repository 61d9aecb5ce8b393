// Next-step commands a run prints must act where the run acted: the same environment, platform flags
// (`--sandbox`) and config file, with task arguments after `--`.

export interface CommandTarget {
  env: string;
  /** Platform flags that were given, without dashes. */
  platformFlags: readonly string[];
  /** The --config value as typed, when it is not the default config. */
  config?: string;
}

const quoted = (word: string) => (/^[-\w.,=/:@+]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`);

/** `pnpm task TASK --env=… [--sandbox] [--config=…] [-- ARGS]`. */
export function commandFor(target: CommandTarget, task: string, taskArgs: readonly string[] = []): string {
  const flags = [`--env=${target.env}`, ...target.platformFlags.map((f) => `--${f}`), ...(target.config ? [`--config=${quoted(target.config)}`] : [])];
  return ['pnpm task', task, ...flags, ...(taskArgs.length ? ['--', ...taskArgs.map(quoted)] : [])].join(' ');
}
