// Authentication as Google does it: the token endpoint issues access tokens (and identity tokens for a
// `target_audience` assertion), every API request must carry an access token the sandbox issued (else 401
// UNAUTHENTICATED), and Cloud Run's private URLs want an identity token it issued. Tokens are HMAC-signed
// with a key kept in the state folder, so they stay valid across restarts and between the processes that
// share the folder (a standalone sandbox and `pnpm task`), and no token list needs storing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from './google.js';
import type { SandboxResponse } from './types.js';

const KEY_FILE = 'auth-key';
const ACCESS_TOKEN_SECONDS = 3599;
const ID_TOKEN_SECONDS = 3600;
const ACCESS_PREFIX = 'ya29.sandbox.';

const keys = new Map<string, Buffer>();

/** The folder's signing key, created on first use (mode 600: it mints every token). */
function signingKey(stateDir: string): Buffer {
  const cached = keys.get(stateDir);
  if (cached) return cached;
  const file = path.join(stateDir, KEY_FILE);
  let key: Buffer;
  try {
    key = fs.readFileSync(file);
  } catch {
    fs.mkdirSync(stateDir, { recursive: true });
    try {
      fs.writeFileSync(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    key = fs.readFileSync(file);
  }
  keys.set(stateDir, key);
  return key;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const mac = (stateDir: string, data: string) => createHmac('sha256', signingKey(stateDir)).update(data).digest('base64url');

function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** An OAuth access token for `subject` (an account email), valid for an hour. */
export function issueAccessToken(stateDir: string, subject: string): string {
  const body = b64({ sub: subject, exp: nowSeconds() + ACCESS_TOKEN_SECONDS, n: randomBytes(6).toString('hex') });
  return `${ACCESS_PREFIX}${body}.${mac(stateDir, body)}`;
}

/** An identity token (a JWT, as Google's: gcloud reads its `exp`) for `email` and `audience`. */
export function issueIdToken(stateDir: string, email: string, audience: string): string {
  const iat = nowSeconds();
  const signed = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: 'https://accounts.google.com', aud: audience, azp: email, sub: email, email, email_verified: true, iat, exp: iat + ID_TOKEN_SECONDS })}`;
  return `${signed}.${mac(stateDir, signed)}`;
}

function bearer(authorization: string | string[] | undefined): string | undefined {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  return header?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

/** The caller of an API request, or Google's 401 when the request carries no valid access token. */
export function authenticate(stateDir: string, authorization: string | string[] | undefined): string {
  const token = bearer(authorization);
  if (!token) {
    throw unauthenticated('Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'CREDENTIALS_MISSING');
  }
  const [body, signature] = token.startsWith(ACCESS_PREFIX) ? token.slice(ACCESS_PREFIX.length).split('.') : [];
  const claims = body && signature && sameMac(mac(stateDir, body), signature) ? (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { sub: string; exp: number }) : undefined;
  if (!claims) throw unauthenticated('Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'ACCESS_TOKEN_TYPE_UNSUPPORTED');
  if (claims.exp < nowSeconds()) throw unauthenticated('Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'ACCESS_TOKEN_EXPIRED');
  return claims.sub;
}

function unauthenticated(message: string, reason: string): ApiError {
  return new ApiError(401, message, 'UNAUTHENTICATED', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }]);
}

/** The email of a valid identity token the sandbox issued (Cloud Run's private URLs), else undefined. */
export function identityOf(stateDir: string, authorization: string | string[] | undefined): string | undefined {
  const token = bearer(authorization);
  const [header, payload, signature] = token?.split('.') ?? [];
  if (!header || !payload || !signature || !sameMac(mac(stateDir, `${header}.${payload}`), signature)) return undefined;
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { email?: string; exp?: number };
  return claims.exp && claims.exp >= nowSeconds() ? claims.email : undefined;
}

/**
 * The token endpoint (the key files' token_uri and gcloud's auth/token_host): a signed JWT assertion of a
 * service account gets an access token, or an identity token when it asks for a `target_audience`.
 * Errors in OAuth's shape (`{error, error_description}`). The assertion's signature is not checked: the
 * account's private key lives only in the caller's credentials.
 */
export function tokenResponse(stateDir: string, form: URLSearchParams): SandboxResponse {
  const invalid = (description: string): SandboxResponse => ({ status: 400, body: { error: 'invalid_grant', error_description: description } });
  const assertion = form.get('assertion');
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !assertion) return invalid('The sandbox issues tokens for service-account assertions only.');
  let claims: { iss?: string; target_audience?: string };
  try {
    claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return invalid('Invalid JWT: the assertion is not a JWT.');
  }
  if (!claims.iss) return invalid('Invalid JWT: no issuer.');
  if (claims.target_audience) return { status: 200, body: { id_token: issueIdToken(stateDir, claims.iss, claims.target_audience) } };
  return { status: 200, body: { access_token: issueAccessToken(stateDir, claims.iss), expires_in: ACCESS_TOKEN_SECONDS, token_type: 'Bearer' } };
}
