// The server side of SCRAM-SHA-256 password authentication as PostgreSQL does it (RFC 5802 with SHA-256,
// RFC 7677): the stored verifier and the check of a client's proof. Only the verifier is ever kept, never the
// password. No channel binding: the embedded server speaks plain TCP on loopback, so it never offers
// SCRAM-SHA-256-PLUS.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** PostgreSQL's default scram_iterations. */
const ITERATIONS = 4096;
const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;
/** GS2 headers of a client without channel binding: "n,," (none) or "y,," (it could, but the server did not offer it). */
const GS2_HEADERS = ['n,,', 'y,,'];

interface Verifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** A malformed or out-of-order SCRAM message (PostgreSQL answers these with a protocol violation). */
export class ScramProtocolError extends Error {}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** The password normalisation libpq and node-postgres apply before hashing (SASLprep's mapping and NFKC). */
function saslprep(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
}

/** True for PostgreSQL's stored form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export function isScramVerifier(value: string): boolean {
  return VERIFIER.test(value);
}

/** The verifier PostgreSQL would store for `password` (a fresh random salt each time). */
export function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(saslprep(password), salt, ITERATIONS, 32, 'sha256');
  const storedKey = sha256(hmac(salted, 'Client Key'));
  const serverKey = hmac(salted, 'Server Key');
  return `${SCRAM_MECHANISM}$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function parseVerifier(value: string): Verifier {
  const m = VERIFIER.exec(value);
  if (!m) throw new Error('not a SCRAM-SHA-256 verifier');
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
}

/** `a=1,b=2` → {a: '1', b: '2'}; a malformed attribute is a protocol error. */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    if (!/^[a-zA-Z]=/.test(part)) throw new ScramProtocolError('malformed SCRAM message');
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * One client's exchange against one verifier: `serverFirst` answers the client-first-message, `serverFinal`
 * checks the client-final-message's proof and answers with the server's signature, or undefined when the
 * proof is wrong (a wrong password).
 */
export class ScramExchange {
  private readonly verifier: Verifier;
  private clientFirstBare?: string;
  private serverFirst?: string;
  private nonce?: string;

  constructor(verifier: string) {
    this.verifier = parseVerifier(verifier);
  }

  serverFirstMessage(clientFirst: string): string {
    if (this.serverFirst) throw new ScramProtocolError('unexpected SCRAM client-first-message');
    const gs2 = GS2_HEADERS.find((h) => clientFirst.startsWith(h));
    if (!gs2) throw new ScramProtocolError(clientFirst.startsWith('p=') ? 'channel binding is not supported by this server' : 'malformed SCRAM message');
    this.clientFirstBare = clientFirst.slice(gs2.length);
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (!clientNonce || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw new ScramProtocolError('malformed SCRAM message: invalid client nonce');
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  serverFinalMessage(clientFinal: string): string | undefined {
    if (!this.serverFirst) throw new ScramProtocolError('unexpected SCRAM client-final-message');
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramProtocolError('malformed SCRAM message: no proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    const binding = Buffer.from(attrs.get('c') ?? '', 'base64').toString();
    if (!GS2_HEADERS.includes(binding)) throw new ScramProtocolError('malformed SCRAM message: unexpected channel binding');
    if (attrs.get('r') !== this.nonce) throw new ScramProtocolError('malformed SCRAM message: nonce mismatch');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = this.verifier;
    if (proof.length !== storedKey.length) return undefined;
    const clientSignature = hmac(storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    if (!timingSafeEqual(sha256(clientKey), storedKey)) return undefined;
    return `v=${hmac(serverKey, authMessage).toString('base64')}`;
  }
}
