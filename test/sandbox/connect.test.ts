// Finding a running sandbox: nothing listening at its port means none (the run starts its own), a live but
// silent one is an error that names it (never a second sandbox over the same state), a healthy one is used.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRunningSandbox, SANDBOX_INFO_FILE } from '../../lib/sandbox/connect.js';
import { UserError } from '../../lib/engine/errors.js';

const listen = (server: net.Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

function stateDirFor(port: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-connect-'));
  fs.writeFileSync(path.join(dir, SANDBOX_INFO_FILE), JSON.stringify({ pid: process.pid, port, url: `http://127.0.0.1:${port}` }));
  return dir;
}

test('a live sandbox that never answers is an error naming it, not a reason to start another', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket)); // accepts, never answers
  const port = await listen(silent);
  const dir = stateDirFor(port);
  try {
    const error = await findRunningSandbox(dir, { busyMs: 2500 }).then(() => null, (e: unknown) => e);
    assert.instance(error, UserError);
    assert.match((error as UserError).message, `pid ${process.pid}, port ${port}`);
    assert.match((error as UserError).hint ?? '', `kill ${process.pid}`);
    assert.ok(sockets.length >= 1, 'the health request reached the silent sandbox');
  } finally {
    for (const s of sockets) s.destroy();
    await close(silent);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing listening at the recorded port: no running sandbox', async () => {
  const probe = net.createServer();
  const port = await listen(probe);
  await close(probe); // the port is free again: a connection is refused
  const dir = stateDirFor(port);
  try {
    assert.is(await findRunningSandbox(dir), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a sandbox answering for this folder is found; one answering for another folder is not', async () => {
  let answerFor = '';
  const server = http.createServer((_req, res) => res.end(JSON.stringify({ ok: true, stateDir: answerFor })));
  const port = await listen(server);
  const dir = stateDirFor(port);
  try {
    answerFor = dir;
    assert.equal(await findRunningSandbox(dir), { pid: process.pid, port, url: `http://127.0.0.1:${port}` });
    answerFor = os.tmpdir();
    assert.is(await findRunningSandbox(dir), null);
  } finally {
    await close(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
