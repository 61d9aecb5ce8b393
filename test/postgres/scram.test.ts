// SCRAM-SHA-256 as PostgreSQL stores and checks it: the verifier's form, a full exchange computed as a client
// does (RFC 5802), a wrong proof refused, and malformed or replayed messages as protocol errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { ScramExchange, ScramProtocolError, isScramVerifier, scramVerifier } from '../../lib/postgres/scram.js';

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** The client side, written from the RFC: the final message for `password`, and the server signature expected back. */
function clientFinal(password: string, clientFirstBare: string, serverFirst: string) {
  const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64');
  return { message: `${withoutProof},p=${proof}`, serverSignature: `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}` };
}

test('the verifier has PostgreSQL\'s form, a fresh salt each time, and never the password', () => {
  const v = scramVerifier('s3cret-pass');
  assert.match(v, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  assert.ok(isScramVerifier(v));
  assert.is.not(scramVerifier('s3cret-pass'), v);
  assert.not.match(v, 's3cret');
  assert.not.ok(isScramVerifier('md5' + 'a'.repeat(32)));
});

test('the right password completes the exchange with the server\'s signature; a wrong one gets undefined', () => {
  const verifier = scramVerifier('right');
  for (const [password, expectOk] of [['right', true], ['wrong', false]] as const) {
    const server = new ScramExchange(verifier);
    const bare = 'n=*,r=clientnonce123';
    const serverFirst = server.serverFirstMessage(`n,,${bare}`);
    assert.match(serverFirst, /^r=clientnonce123[^,]+,s=[^,]+,i=4096$/);
    const client = clientFinal(password, bare, serverFirst);
    assert.is(server.serverFinalMessage(client.message), expectOk ? client.serverSignature : undefined);
  }
});

test('channel binding requests, a changed nonce and out-of-order messages are protocol errors', () => {
  const verifier = scramVerifier('right');
  const protocolError = (pattern: RegExp) => (e: Error) => e instanceof ScramProtocolError && pattern.test(e.message);
  assert.throws(() => new ScramExchange(verifier).serverFirstMessage('p=tls-server-end-point,,n=*,r=abc'), protocolError(/channel binding is not supported/));
  assert.throws(() => new ScramExchange(verifier).serverFinalMessage('c=biws,r=abc,p=AAAA'), protocolError(/unexpected SCRAM client-final-message/));
  const server = new ScramExchange(verifier);
  const serverFirst = server.serverFirstMessage('n,,n=*,r=abc');
  const tampered = clientFinal('right', 'n=*,r=abc', serverFirst.replace(/^r=abc/, 'r=abd'));
  assert.throws(() => server.serverFinalMessage(tampered.message), protocolError(/nonce mismatch/));
  assert.throws(() => server.serverFirstMessage('n,,n=*,r=abc'), protocolError(/unexpected SCRAM client-first-message/));
});

test.run();
