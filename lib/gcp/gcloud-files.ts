// What gcloud's own configuration files say, read without starting gcloud (a gcloud process costs about a
// second of CPU): its properties as gcloud resolves them, the logged-in account, and the access token gcloud
// already holds for it. The folder is CLOUDSDK_CONFIG or ~/.config/gcloud; its `active_config` names the
// configuration (CLOUDSDK_ACTIVE_CONFIG_NAME wins).
import * as fs from 'node:fs';
import { readFile, access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

export function gcloudConfigDir(env: Env): string {
  if (env.CLOUDSDK_CONFIG) return env.CLOUDSDK_CONFIG;
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'gcloud');
  return path.join(homedir(), '.config', 'gcloud');
}

function readTextSync(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** gcloud's properties files: `[section]` headers and `name = value` lines (Python's configparser). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = out[header[1]!.trim()] ??= {};
      continue;
    }
    const eq = line.search(/[=:]/);
    if (section && eq > 0) section[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

const propertiesCache = new Map<string, Record<string, Record<string, string>>>();

function activeProperties(env: Env): Record<string, Record<string, string>> {
  const dir = gcloudConfigDir(env);
  const active = env.CLOUDSDK_ACTIVE_CONFIG_NAME || readTextSync(path.join(dir, 'active_config'))?.trim() || 'default';
  const file = path.join(dir, 'configurations', `config_${active}`);
  let parsed = propertiesCache.get(file);
  if (!parsed) {
    parsed = parseIni(readTextSync(file) ?? '');
    propertiesCache.set(file, parsed);
  }
  return parsed;
}

/**
 * A gcloud property (`section/name`) as gcloud resolves it: the CLOUDSDK_SECTION_NAME variable, else the
 * active configuration's properties file.
 */
export function gcloudProperty(env: Env, section: string, name: string): string | undefined {
  const fromEnv = env[`CLOUDSDK_${section}_${name}`.toUpperCase()];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return activeProperties(env)[section]?.[name];
}

/**
 * The active account when the files show one with stored credentials (legacy_credentials/<account>, or
 * the account in the credential database), else undefined: undecided, ask gcloud.
 */
export async function activeAccountFromFiles(env: Env): Promise<string | undefined> {
  const dir = gcloudConfigDir(env);
  const account = gcloudProperty(env, 'core', 'account');
  if (!account) return undefined;
  const legacy = await access(path.join(dir, 'legacy_credentials', account, 'adc.json')).then(() => true, () => false);
  if (legacy) return account;
  const store = await readFile(path.join(dir, 'credentials.db')).catch(() => undefined);
  return store?.includes(Buffer.from(account)) ? account : undefined;
}

/** A cached token is used only while it has this long left; gcloud itself refreshes a few minutes before expiry. */
const MIN_TOKEN_LIFETIME_MS = 5 * 60_000;

/**
 * The access token gcloud holds for the active account in its access_tokens.db (SQLite, read with sql.js:
 * WebAssembly, nothing to compile at install), when it has minutes left. Undefined whenever gcloud would
 * decide otherwise (impersonation, an access-token or credential file, no known account) or the cache has nothing fresh:
 * then ask gcloud, which refreshes it.
 */
export async function cachedAccessToken(env: Env, now = Date.now()): Promise<string | undefined> {
  // Properties with which gcloud's token comes from somewhere else than the account's own credentials.
  if (['impersonate_service_account', 'access_token_file', 'credential_file_override'].some((name) => gcloudProperty(env, 'auth', name))) return undefined;
  const account = await activeAccountFromFiles(env);
  if (!account) return undefined;
  const bytes = await readFile(path.join(gcloudConfigDir(env), 'access_tokens.db')).catch(() => undefined);
  if (!bytes) return undefined;
  try {
    const initSqlJs = createRequire(import.meta.url)('sql.js') as typeof import('sql.js').default;
    const SQL = await initSqlJs();
    const db = new SQL.Database(bytes);
    try {
      const row = db.exec('SELECT access_token, token_expiry FROM access_tokens WHERE account_id = ?', [account])[0]?.values[0];
      const [token, expiry] = row ?? [];
      if (typeof token !== 'string' || !token || typeof expiry !== 'string') return undefined;
      // Stored as UTC without a zone: `2026-12-01 09:25:29.299426`.
      const expiresAt = Date.parse(`${expiry.replace(' ', 'T').replace(/(\.\d{3})\d*$/, '$1')}Z`);
      return Number.isFinite(expiresAt) && expiresAt - now >= MIN_TOKEN_LIFETIME_MS ? token : undefined;
    } finally {
      db.close();
    }
  } catch {
    return undefined; // a database gcloud is writing, or of another layout: gcloud knows
  }
}
