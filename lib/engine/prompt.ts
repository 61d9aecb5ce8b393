// Questions to the user (destructive confirmations, cleanup menus). Reads the given input, writes the question
// to the given output (stderr: stdout stays clean for --json), asks one question at a time, and refuses
// without a terminal. Only a line typed after a question is shown answers it: keys pressed earlier (during a
// long discovery) are discarded. Ctrl-C (the run's abort signal) rejects the pending question and every later
// one, so a task cannot go on asking after the user stopped the run.
import { StringDecoder } from 'node:string_decoder';
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
  /** The run's interrupt: aborting it rejects the pending question and every later one. */
  signal?: AbortSignal;
}

/** True when questions can be asked: stdin and stderr are a terminal (or forceTTY). */
export function canPrompt(opts: Pick<PromptOptions, 'input' | 'output' | 'forceTTY'>): boolean {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  return !!opts.forceTTY || (!!(input as { isTTY?: boolean }).isTTY && !!(output as { isTTY?: boolean }).isTTY);
}

/** One full turn of the event loop, so input already waiting is read before we go on. */
const loopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createPrompt(opts: PromptOptions): Prompt & { close(): void } {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  const isTTY = canPrompt(opts);
  const decoder = new StringDecoder('utf8');
  let lines: string[] = [];
  let partial = '';
  let ended = false;
  let listening = false;
  let waiter: ((line: string | null) => void) | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const deliver = (line: string | null) => {
    const answer = waiter;
    waiter = undefined;
    if (answer) answer(line);
    else if (line !== null) lines.push(line);
  };
  const onData = (chunk: Buffer | string) => {
    const parts = (partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split(/\r?\n/);
    partial = parts.pop()!;
    parts.forEach(deliver);
  };
  const onEnd = () => {
    ended = true;
    if (partial) deliver(partial);
    partial = '';
    deliver(null);
  };
  const interrupted = (question: string) => new UserError(`Interrupted at the question "${question}".`);

  /** Serialises questions so two parallel tasks never ask at the same time. */
  const ask = (question: string): Promise<string> => {
    const answer = queue.then(async () => {
      if (opts.signal?.aborted) throw interrupted(question);
      if (!listening) {
        input.on('data', onData);
        input.on('end', onEnd);
        listening = true;
      }
      input.resume();
      // Two turns: the first starts reading, the second runs after the loop has polled what was waiting.
      await loopTurn();
      await loopTurn();
      lines = [];
      partial = '';
      output.write(`${question} `);
      try {
        const line = await new Promise<string | null>((resolve, reject) => {
          if (ended) return resolve(null);
          const onAbort = () => {
            waiter = undefined;
            reject(interrupted(question));
          };
          if (opts.signal?.aborted) return onAbort();
          opts.signal?.addEventListener('abort', onAbort, { once: true });
          waiter = (line) => {
            opts.signal?.removeEventListener('abort', onAbort);
            resolve(line);
          };
        });
        if (line === null) throw new UserError(`No answer to "${question}" (input closed).`, { hint: 'Pass --yes to confirm without a terminal.' });
        return line.trim();
      } finally {
        // Not reading between questions: the input does not keep the process alive, and keys typed meanwhile are
        // discarded before the next question.
        if (!ended) input.pause();
      }
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
      if (!listening) return;
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    },
  };
}
