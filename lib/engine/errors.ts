// Expected failures the user can fix. The CLI prints `message` and `hint` (no stack unless --verbose)
// and exits with `exitCode`: 1 task or config failure, 2 usage error.
export class UserError extends Error {
  readonly hint?: string;
  readonly exitCode: 1 | 2;
  constructor(message: string, opts: { hint?: string; exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'UserError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** A wrong command line: unknown task or flag, bad argument. Exit code 2. */
export class UsageError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: 2 });
    this.name = 'UsageError';
  }
}
