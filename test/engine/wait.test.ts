// The one wait helper: polling returns the first real value, times out with the caller's error, and an
// interrupted run stops waiting at once instead of sleeping out its interval.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { delay, pollUntil } from '../../lib/engine/wait.js';

test('pollUntil resolves with the first value that is not undefined/false', async () => {
  let calls = 0;
  const value = await pollUntil(() => (++calls < 3 ? false : { ready: calls }), { timeoutMs: 5000, intervalMs: 1, onTimeout: () => new Error('timeout') });
  assert.equal(value, { ready: 3 });
});

test('pollUntil fails with the onTimeout error once the deadline has passed', async () => {
  const err = await pollUntil(() => undefined, { timeoutMs: 20, intervalMs: 5, onTimeout: () => new Error('port 5432 never opened') }).catch((e: Error) => e);
  assert.is((err as Error).message, 'port 5432 never opened');
});

test('an abort ends the wait during its interval, with the abort reason', async () => {
  const controller = new AbortController();
  let calls = 0;
  const waiting = pollUntil(
    () => {
      if (++calls === 1) queueMicrotask(() => controller.abort(new Error('interrupted')));
      return undefined;
    },
    { timeoutMs: 600_000, intervalMs: 600_000, onTimeout: () => new Error('timeout'), signal: controller.signal },
  );
  const started = Date.now();
  const err = await waiting.catch((e: Error) => e);
  assert.is((err as Error).message, 'interrupted');
  assert.is(calls, 1);
  assert.ok(Date.now() - started < 5000, 'did not sleep out the 10-minute interval');
});

test('delay without a signal still ends after its time', async () => {
  const started = Date.now();
  await delay(20);
  assert.ok(Date.now() - started >= 15);
});

test.run();
