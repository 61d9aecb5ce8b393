// The rollout health check against a real local HTTP server: only 2xx passes, 5xx is retried a bounded
// number of times with growing waits, 404 (no health endpoint) fails at once, an interrupt stops it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHealth, describeHealth } from '../../../tasks/deploy/health.js';

let server: http.Server;
let base = '';
const hits: { path: string; at: number }[] = [];
/** Status per path, or a list consumed one per request. */
const answers = new Map<string, number | number[]>();

test.before(async () => {
  server = http.createServer((req, res) => {
    hits.push({ path: req.url!, at: Date.now() });
    const answer = answers.get(req.url!) ?? 404;
    const status = Array.isArray(answer) ? answer.shift() ?? 200 : answer;
    res.writeHead(status).end(String(status));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
test.before.each(() => {
  hits.length = 0;
  answers.clear();
});

test('200 passes at the first attempt', async () => {
  answers.set('/health', 200);
  const r = await checkHealth(`${base}/health`, new AbortController().signal);
  assert.equal([r.ok, r.attempts, r.last], [true, 1, '200 OK']);
});

test('a cold start (503, 503, then 200) passes after retries', async () => {
  answers.set('/health', [503, 503, 200]);
  const r = await checkHealth(`${base}/health`, new AbortController().signal);
  assert.equal([r.ok, r.attempts], [true, 3]);
});

test('a revision that keeps answering 503 fails after a bounded number of attempts, with growing waits', async () => {
  answers.set('/health', 503);
  const r = await checkHealth(`${base}/health`, new AbortController().signal);
  assert.is(r.ok, false);
  assert.is(r.attempts, hits.length);
  assert.ok(r.attempts >= 3 && r.attempts <= 10, `${r.attempts} attempts`);
  const gaps = hits.slice(1).map((h, i) => h.at - hits[i].at);
  assert.ok(gaps.at(-1)! > gaps[0], `waits grow: ${gaps.join(', ')} ms`);
  assert.match(describeHealth(r), /^GET http:\/\/127.0.0.1:\d+\/health → 503 Service Unavailable \(\d attempts over \d+\.\d s\)$/);
});

test('404 (no health endpoint) fails at once: it is not a healthy answer', async () => {
  const r = await checkHealth(`${base}/health`, new AbortController().signal);
  assert.equal([r.ok, r.attempts, r.last], [false, 1, '404 Not Found']);
});

test('a refused connection is reported as such', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const r = await checkHealth(`http://127.0.0.1:${port}/health`, new AbortController().signal);
  assert.is(r.ok, false);
  assert.match(r.last, /ECONNREFUSED/);
});

test('an interrupt stops the retries', async () => {
  answers.set('/health', 503);
  const controller = new AbortController();
  const pending = checkHealth(`${base}/health`, controller.signal);
  controller.abort();
  const r = await pending;
  assert.is(r.ok, false);
  assert.ok(r.attempts <= 2, `${r.attempts} attempts`);
});

test.run();
