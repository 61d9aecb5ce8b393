// The sandbox's CA and server certificate: made once by openssl, usable for a real TLS handshake as
// storage.googleapis.com, kept across calls, the CA's private key never left on disk, and readable errors for
// a damaged folder or a machine without openssl.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { testsNeeding } from '../helpers/skip.js';
import { sandboxCerts } from '../../lib/sandbox/certs.js';

const opensslTest = testsNeeding('openssl', 'the sandbox certificate checks');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-certs-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Completes a TLS handshake against a server using `certs`, as a client that trusts only the sandbox CA. */
function handshake(certs: { caFile: string; key: string; cert: string }, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const server = tls.createServer({ key: certs.key, cert: certs.cert }, (socket) => socket.end());
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      const client = tls.connect({ host: '127.0.0.1', port, servername, ca: fs.readFileSync(certs.caFile) }, () => {
        client.destroy();
        server.close(() => resolve('trusted'));
      });
      client.on('error', (e: NodeJS.ErrnoException) => server.close(() => resolve(e.code ?? e.message)));
    });
  });
}

opensslTest('the server certificate is trusted through the CA for the googleapis.com names only', async () => {
  const certs = sandboxCerts(path.join(tmp, 'a'));
  assert.is(certs.caFile, path.join(tmp, 'a', 'tls', 'ca.pem'));
  const ca = new X509Certificate(fs.readFileSync(certs.caFile));
  const server = new X509Certificate(certs.cert);
  assert.ok(ca.ca, 'the CA file holds a CA certificate');
  assert.not.ok(server.ca, 'the server certificate is not a CA');
  assert.is(server.subjectAltName, 'DNS:*.googleapis.com, DNS:storage.googleapis.com, DNS:googleapis.com');
  assert.is(await handshake(certs, 'storage.googleapis.com'), 'trusted');
  assert.is(await handshake(certs, 'run.googleapis.com'), 'trusted');
  assert.is(await handshake(certs, 'example.com'), 'ERR_TLS_CERT_ALTNAME_INVALID');
});

opensslTest('made once: a second call returns the same files, and the CA private key is not kept', () => {
  const dir = path.join(tmp, 'b');
  const first = sandboxCerts(dir);
  const second = sandboxCerts(dir);
  assert.is(second.cert, first.cert);
  assert.is(second.key, first.key);
  assert.equal(fs.readdirSync(dir), ['tls']);
  assert.equal(fs.readdirSync(path.join(dir, 'tls')).sort(), ['ca.pem', 'cert.pem', 'key.pem']);
  assert.is(fs.statSync(path.join(dir, 'tls', 'key.pem')).mode & 0o777, 0o600);
  assert.not.match(fs.readFileSync(first.caFile, 'utf8'), 'PRIVATE KEY');
});

opensslTest('a damaged folder is named with the fix, not left to fail inside TLS', () => {
  const dir = path.join(tmp, 'c');
  sandboxCerts(dir);
  fs.writeFileSync(path.join(dir, 'tls', 'key.pem'), 'not a key');
  const err = (() => {
    try {
      sandboxCerts(dir);
    } catch (e) {
      return (e as Error).message;
    }
  })();
  assert.match(String(err), `The sandbox's TLS files in ${path.join(dir, 'tls')} are damaged`);
  assert.match(String(err), 'delete that folder and start the sandbox again');
});

test('without openssl the error says what to install', () => {
  const saved = process.env.PATH;
  process.env.PATH = path.join(tmp, 'empty-bin');
  try {
    assert.throws(() => sandboxCerts(path.join(tmp, 'd')), /needs the openssl command to make its TLS certificate: install OpenSSL/);
  } finally {
    process.env.PATH = saved;
  }
  assert.not.ok(fs.existsSync(path.join(tmp, 'd', 'tls')), 'no half-made tls folder');
  assert.equal(fs.readdirSync(path.join(tmp, 'd')), [], 'no staging folder left behind');
});

test.run();
