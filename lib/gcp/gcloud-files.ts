// What gcloud's own configuration files say about the login, read without starting gcloud (a gcloud
// process costs about a second of CPU). The folder is CLOUDSDK_CONFIG or ~/.config/gcloud; its
// `active_config` names the configuration (CLOUDSDK_ACTIVE_CONFIG_NAME wins), whose [core] account
// (CLOUDSDK_CORE_ACCOUNT wins) is logged in when gcloud stored credentials for it.
import { readFile, access } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export function gcloudConfigDir(env: Record<string, string | undefined>): string {
  if (env.CLOUDSDK_CONFIG) return env.CLOUDSDK_CONFIG;
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'gcloud');
  return path.join(homedir(), '.config', 'gcloud');
}

const readText = (file: string) => readFile(file, 'utf8').catch(() => '');

/** The value of `key` in `[section]` of an INI text (gcloud's properties files). */
export function iniValue(text: string, section: string, key: string): string | undefined {
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const header = line.match(/^\[(.+)\]$/);
    if (header) current = header[1]!.trim();
    else if (current === section) {
      const pair = line.match(/^([^=:#;]+?)\s*[=:]\s*(.*)$/);
      if (pair && pair[1] === key) return pair[2]!.trim();
    }
  }
  return undefined;
}

/**
 * The active account when the files show one with stored credentials (legacy_credentials/<account>, or
 * the account in the credential database), else undefined: undecided, ask gcloud.
 */
export async function activeAccountFromFiles(env: Record<string, string | undefined>): Promise<string | undefined> {
  const dir = gcloudConfigDir(env);
  const name = env.CLOUDSDK_ACTIVE_CONFIG_NAME || (await readText(path.join(dir, 'active_config'))).trim() || 'default';
  const account = env.CLOUDSDK_CORE_ACCOUNT || iniValue(await readText(path.join(dir, 'configurations', `config_${name}`)), 'core', 'account');
  if (!account) return undefined;
  const legacy = await access(path.join(dir, 'legacy_credentials', account, 'adc.json')).then(() => true, () => false);
  if (legacy) return account;
  const store = await readFile(path.join(dir, 'credentials.db')).catch(() => undefined);
  return store?.includes(Buffer.from(account)) ? account : undefined;
}
