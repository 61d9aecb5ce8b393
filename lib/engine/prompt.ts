// Questions to the user (destructive confirmations, cleanup menus). Reads stdin, writes the question to
// stderr (stdout stays clean for --json), asks one question at a time, and refuses without a terminal.
import * as readline from 'node:readline';
import type { Prompt } from './types.js';
import { UserError } from './errors.js';

export interface PromptOptions {
  yes: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Treat the input as a terminal even when it is a pipe. For tests and scripted sessions that answer
   * prompts on stdin (set by GCP_TASKS_PROMPT_TTY=1).
   */
  forceTTY?: boolean;
}

/** True when questions can be asked: stdin and stderr are a terminal (or forceTTY). */
export function canPrompt(opts: Pick<PromptOptions, 'input' | 'output' | 'forceTTY'>): boolean {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  return !!opts.forceTTY || (!!(input as { isTTY?: boolean }).isTTY && !!(output as { isTTY?: boolean }).isTTY);
}

export function createPrompt(opts: PromptOptions): Prompt & { close(): void } {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  const isTTY = canPrompt(opts);
  // One readline for the whole run: lines typed (or piped) ahead of a question are queued, not lost.
  let rl: readline.Interface | undefined;
  const lines: string[] = [];
  const waiters: ((line: string | null) => void)[] = [];
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  const open = () => {
    if (rl) return;
    rl = readline.createInterface({ input, terminal: false });
    rl.on('line', (line) => (waiters.length ? waiters.shift()!(line) : lines.push(line)));
    rl.on('close', () => {
      closed = true;
      while (waiters.length) waiters.shift()!(null);
    });
  };
  const nextLine = () =>
    new Promise<string | null>((resolve) => {
      if (lines.length) resolve(lines.shift()!);
      else if (closed) resolve(null);
      else waiters.push(resolve);
    });

  /** Serialises questions so two parallel tasks never ask at the same time. */
  const ask = (question: string): Promise<string> => {
    const answer = queue.then(async () => {
      open();
      output.write(`${question} `);
      const line = await nextLine();
      if (line === null) throw new UserError(`No answer to "${question}" (input closed).`, { hint: 'Pass --yes to confirm without a terminal.' });
      return line.trim();
    });
    queue = answer.catch(() => {});
    return answer;
  };
  const noTerminal = (question: string) =>
    new UserError(`This step needs confirmation ("${question}") but there is no terminal to ask on.`, {
      hint: 'Run it in a terminal, or pass --yes to confirm in advance.',
    });

  return {
    isTTY,
    yes: opts.yes,
    async confirm(question) {
      if (opts.yes) return true;
      if (!isTTY) throw noTerminal(question);
      return /^(y|yes)$/i.test(await ask(`${question} [y/N]`));
    },
    async input(question) {
      if (!isTTY) throw noTerminal(question);
      return ask(question);
    },
    close() {
      rl?.close();
    },
  };
}
