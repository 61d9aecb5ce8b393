// A local certificate authority and a certificate for *.googleapis.com, so the sandbox can terminate the TLS
// of the one URL gcloud does not let us override: the Cloud Build log object on https://storage.googleapis.com.
// gcloud trusts the CA through its core/custom_ca_certs_file property. The certificates are made once per
// state folder by the `openssl` command; the CA's private key is thrown away once it has signed the server
// certificate, so nothing else can ever be made that gcloud would trust.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface SandboxCerts {
  /** PEM file of the CA, for gcloud's core/custom_ca_certs_file. */
  caFile: string;
  key: string;
  cert: string;
}

const CA_NAME = 'gcp-tasks sandbox CA';
const SERVER_NAME = 'storage.googleapis.com';
const HOSTS = ['*.googleapis.com', 'storage.googleapis.com', 'googleapis.com'];
const VALID_DAYS = 3650;

// Everything openssl needs comes from this file, so the machine's own openssl.cnf plays no part.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = ${HOSTS.map((h) => `DNS:${h}`).join(', ')}
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('The sandbox needs the openssl command to make its TLS certificate: install OpenSSL (e.g. apt-get install openssl) and start it again.');
    throw new Error(`openssl ${args[0]} failed while making the sandbox's TLS certificate: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Makes ca.pem, key.pem and cert.pem in `dir` (the CA key is left out). */
function generate(dir: string): void {
  const config = path.join(dir, 'openssl.cnf');
  fs.writeFileSync(config, OPENSSL_CONFIG);
  const days = String(VALID_DAYS);
  openssl(['req', '-x509', ...EC_KEY, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', `/CN=${CA_NAME}`, '-days', days, '-config', config, '-extensions', 'ca'], dir);
  openssl(['req', '-new', ...EC_KEY, '-keyout', 'key.pem', '-out', 'server.csr', '-subj', `/CN=${SERVER_NAME}`, '-config', config], dir);
  const serial = `0x${randomBytes(16).toString('hex')}`;
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', serial, '-days', days, '-sha256', '-extfile', config, '-extensions', 'server', '-out', 'cert.pem'], dir);
  for (const scratch of ['ca-key.pem', 'server.csr', 'openssl.cnf']) fs.rmSync(path.join(dir, scratch));
  fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
}

/** The certificates in `dir`, checked to belong together (a damaged or mixed-up folder is an error, not a TLS failure later). */
function load(dir: string): SandboxCerts {
  const caFile = path.join(dir, 'ca.pem');
  try {
    const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
    const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    const server = new X509Certificate(cert);
    const ca = new X509Certificate(fs.readFileSync(caFile));
    if (!server.checkPrivateKey(createPrivateKey(key)) || !server.verify(ca.publicKey)) throw new Error('the key, certificate and CA do not belong together');
    return { caFile, key, cert };
  } catch (error) {
    throw new Error(`The sandbox's TLS files in ${dir} are damaged (${(error as Error).message}): delete that folder and start the sandbox again.`);
  }
}

/** The sandbox's certificates, made once per state folder (kept in `<stateDir>/tls/`). */
export function sandboxCerts(stateDir: string): SandboxCerts {
  const dir = path.join(stateDir, 'tls');
  if (fs.existsSync(dir)) return load(dir);
  fs.mkdirSync(stateDir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(stateDir, 'tls-staging-'));
  try {
    generate(staging);
    // The folder appears whole or not at all; when another process got there first, its certificates win.
    fs.renameSync(staging, dir);
  } catch (error) {
    if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return load(dir);
}
