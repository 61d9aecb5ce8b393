// The renderers write only to the stream they are given, and describeError reports any thrown value.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTtyRenderer, describeError } from '../../lib/engine/render.js';

test('the terminal renderer draws on the stream it is given and leaves process.stdout alone', async () => {
  const columnsBefore = process.stdout.columns;
  const writes: string[] = [];
  const stdoutWrite = process.stdout.write;
  let toStdout = 0;
  process.stdout.write = ((...args: Parameters<typeof process.stdout.write>) => (toStdout++, stdoutWrite.apply(process.stdout, args))) as typeof process.stdout.write;
  try {
    const stream = Object.assign(Object.create(process.stderr), {
      isTTY: true,
      columns: 100,
      rows: 40,
      write: (text: string) => (writes.push(String(text)), true),
    }) as NodeJS.WriteStream;
    const ui = await createTtyRenderer(['build:image'], { stream });
    ui.event({ type: 'start', task: 'build:image', reason: 'never ran', at: 0 });
    ui.event({ type: 'end', result: { name: 'build:image', status: 'ran', reason: 'never ran', durationMs: 1200 }, at: 1200 });
    await ui.end();
  } finally {
    process.stdout.write = stdoutWrite;
  }
  assert.is(process.stdout.columns, columnsBefore, 'process.stdout.columns is unchanged');
  assert.is(toStdout, 0, 'nothing was written to process.stdout');
  assert.match(writes.join(''), 'build:image');
});

test('describeError never throws, whatever was thrown', () => {
  const badMessage = new Error('x');
  Object.defineProperty(badMessage, 'message', { get: () => { throw new Error('boom'); } });
  const badHint = Object.defineProperty(new Error('real message'), 'hint', { get: () => { throw new Error('boom'); } });
  assert.equal(describeError(Object.create(null), false), { message: 'a value that is not an Error was thrown: [Object: null prototype] {}' });
  assert.equal(describeError(badMessage, false), { message: 'Error without a readable message' });
  assert.equal(describeError(badHint, false), { message: 'real message' });
  assert.equal(describeError(undefined, false), { message: 'a value that is not an Error was thrown: undefined' });
  assert.equal(describeError('plain text', false), { message: 'plain text' });
});

test("describeError drops zx's call-site lines without --verbose", () => {
  const error = new Error('disk full\n\n    at AsyncLocalStorage.run (node:async_hooks:346:14)\n    exit code: 3');
  assert.is(describeError(error, false).message, 'disk full\n    exit code: 3');
  assert.match(describeError(error, true).message, 'AsyncLocalStorage.run');
});

test.run();
