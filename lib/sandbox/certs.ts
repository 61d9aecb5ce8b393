// A local certificate authority and a certificate for *.googleapis.com, so the sandbox can terminate the TLS
// of the one URL gcloud does not let us override: the Cloud Build log object on https://storage.googleapis.com
// (reference §9). gcloud trusts the CA through CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE. Node has no certificate
// builder, so the X.509 structures are DER-encoded here (ECDSA P-256, SHA-256).
import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface SandboxCerts {
  /** PEM file of the CA, for CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE. */
  caFile: string;
  key: string;
  cert: string;
}

const HOSTS = ['*.googleapis.com', 'storage.googleapis.com', 'googleapis.com'];

// ------------------------------------------------------------------------------------------------ DER

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function integer(b: Buffer): Buffer {
  return tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const v of rest) {
    const chunk: number[] = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) chunk.unshift((x & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const extension = (id: string, value: Buffer, critical = false) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function keyId(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

function certificate(opts: { subject: string; issuer: string; spki: Buffer; issuerSpki: Buffer; signer: KeyObject; ca: boolean; hosts?: string[] }): string {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const now = Date.now();
  const extensions = [
    extension('2.5.29.19', opts.ca ? seq(bool(true)) : seq(), true),
    // keyUsage: CA = digitalSignature + keyCertSign + cRLSign; leaf = digitalSignature.
    extension('2.5.29.15', opts.ca ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0x80]), 7), true),
    extension('2.5.29.14', octets(keyId(opts.spki))),
    extension('2.5.29.35', seq(tlv(0x80, keyId(opts.issuerSpki)))),
  ];
  if (opts.hosts) {
    extensions.push(extension('2.5.29.37', seq(oid('1.3.6.1.5.5.7.3.1'))));
    extensions.push(extension('2.5.29.17', seq(...opts.hosts.map((h) => tlv(0x82, Buffer.from(h, 'ascii'))))));
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(opts.issuer),
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 10 * 365 * 86_400_000))),
    name(opts.subject),
    opts.spki,
    explicit(3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, opts.signer)));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

function generate(): { caPem: string; key: string; cert: string } {
  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caSpki = ca.publicKey.export({ type: 'spki', format: 'der' });
  const leafSpki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  const caPem = certificate({ subject: 'gcp-tasks sandbox CA', issuer: 'gcp-tasks sandbox CA', spki: caSpki, issuerSpki: caSpki, signer: ca.privateKey, ca: true });
  const cert = certificate({ subject: 'storage.googleapis.com', issuer: 'gcp-tasks sandbox CA', spki: leafSpki, issuerSpki: caSpki, signer: ca.privateKey, ca: false, hosts: HOSTS });
  return { caPem, key: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert };
}

/** The sandbox's certificates, created once per state folder (kept in `<stateDir>/tls/`). */
export function sandboxCerts(stateDir: string): SandboxCerts {
  const dir = path.join(stateDir, 'tls');
  const caFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  if (fs.existsSync(caFile) && fs.existsSync(keyFile) && fs.existsSync(certFile)) {
    const key = fs.readFileSync(keyFile, 'utf8');
    createPrivateKey(key); // throws on a damaged file rather than failing later inside TLS
    return { caFile, key, cert: fs.readFileSync(certFile, 'utf8') };
  }
  const { caPem, key, cert } = generate();
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content, mode] of [[keyFile, key, 0o600], [certFile, cert, 0o644], [caFile, caPem, 0o644]] as const) {
    fs.writeFileSync(`${file}.tmp`, content, { mode });
    fs.renameSync(`${file}.tmp`, file);
  }
  return { caFile, key, cert };
}
