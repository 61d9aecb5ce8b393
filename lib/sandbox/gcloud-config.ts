// The sandbox's gcloud configuration: a CLOUDSDK_CONFIG folder like a user's, logged in and pointed at the
// sandbox by its properties file, so that `CLOUDSDK_CONFIG=<dir> gcloud …` behaves as gcloud on a user's
// machine does against Google (no other variable needed).
//
// Logging in is `gcloud auth activate-service-account` with a key of the sandbox's administrator account
// (one gcloud process, and it fetches a token, so the sandbox must be running). Its credential store is kept
// in a per-user template folder and copied into every new configuration folder, so the activation happens
// once per machine rather than once per state folder (tests create many).
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import writeFileAtomic from 'write-file-atomic';
import { sandboxCerts } from './certs.js';

/** The account the sandbox's configuration is logged in as (the owner of the sandbox's project). */
export const SANDBOX_ACCOUNT = 'sandbox-admin@digitwin-sandbox.iam.gserviceaccount.com';

/** APIs gcloud reaches on the sandbox's own address (Cloud Run needs a non-resolving host: see below). */
const OVERRIDDEN_APIS = ['serviceusage', 'artifactregistry', 'storage', 'sql', 'iam', 'cloudresourcemanager', 'secretmanager', 'cloudbuild', 'container', 'monitoring', 'logging'];

export interface SandboxTarget {
  port: number;
  stateDir: string;
  project: string;
  region: string;
}

export const configDirOf = (stateDir: string) => path.join(stateDir, 'gcloud-config');

/**
 * The properties of the configuration. gcloud is also given the sandbox as its HTTP proxy: Cloud Run's
 * endpoint becomes `<region>-run.sandbox`, a name that only resolves through the proxy, and the hard-wired
 * https://storage.googleapis.com log URL of Cloud Build reaches the sandbox (TLS terminated with the
 * sandbox's own CA, which gcloud trusts through custom_ca_certs_file).
 */
function properties(target: SandboxTarget): string {
  const root = `http://127.0.0.1:${target.port}/`;
  return [
    '[core]',
    `account = ${SANDBOX_ACCOUNT}`,
    `project = ${target.project}`,
    'disable_usage_reporting = true',
    `custom_ca_certs_file = ${sandboxCerts(target.stateDir).caFile}`,
    '[component_manager]',
    'disable_update_check = true',
    '[run]',
    `region = ${target.region}`,
    '[auth]',
    `token_host = ${root}token`,
    '[proxy]',
    'type = http',
    'address = 127.0.0.1',
    `port = ${target.port}`,
    '[api_endpoint_overrides]',
    ...OVERRIDDEN_APIS.map((api) => `${api} = ${root}`),
    `run = http://run.sandbox:${target.port}/`,
    '',
  ].join('\n');
}

function writeIfChanged(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    // absent: written below
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic.sync(file, text); // gcloud processes running meanwhile read the old or the new file, never half of one
}

/** Writes the configuration's properties (the port may have changed since the last start). */
export function writeSandboxConfiguration(target: SandboxTarget): string {
  const dir = configDirOf(target.stateDir);
  writeIfChanged(path.join(dir, 'active_config'), 'default');
  writeIfChanged(path.join(dir, 'configurations', 'config_default'), properties(target));
  return dir;
}

const CREDENTIAL_FILES = ['credentials.db', path.join('legacy_credentials', SANDBOX_ACCOUNT, 'adc.json')];

function hasCredentials(dir: string): boolean {
  return CREDENTIAL_FILES.every((f) => fs.existsSync(path.join(dir, f)));
}

function copyCredentials(from: string, to: string): void {
  for (const f of CREDENTIAL_FILES) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true, mode: 0o700 });
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

const templateDir = () => path.join(os.tmpdir(), `gcp-tasks-sandbox-login-${os.userInfo().uid}`);

/** Logs the administrator in with gcloud, in a fresh folder that becomes the template (the first writer wins). */
async function activateTemplate(target: SandboxTarget): Promise<string> {
  const template = templateDir();
  const staging = fs.mkdtempSync(`${template}-staging-`);
  try {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = path.join(staging, 'key.json');
    fs.writeFileSync(keyFile, JSON.stringify({
      type: 'service_account',
      project_id: target.project,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: SANDBOX_ACCOUNT,
      client_id: '100000000000000000001',
      token_uri: `http://127.0.0.1:${target.port}/token`,
    }), { mode: 0o600 });
    const configDir = path.join(staging, 'config');
    fs.mkdirSync(configDir);
    fs.cpSync(configDirOf(target.stateDir), configDir, { recursive: true, filter: (src) => !src.includes(`${path.sep}logs`) });
    await promisify(execFile)('gcloud', ['auth', 'activate-service-account', `--key-file=${keyFile}`, '--quiet'], {
      env: { ...process.env, CLOUDSDK_CONFIG: configDir },
      timeout: 120_000,
    });
    fs.rmSync(keyFile); // the credential store holds the key now
    const credentials = path.join(staging, 'credentials');
    copyCredentials(configDir, credentials);
    try {
      fs.renameSync(credentials, template);
    } catch (error) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
    return template;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The configuration folder of a running sandbox, with its properties up to date and logged in as
 * SANDBOX_ACCOUNT (from the template, or by one activation when there is none yet).
 */
export async function sandboxConfiguration(target: SandboxTarget): Promise<string> {
  const dir = writeSandboxConfiguration(target);
  if (hasCredentials(dir)) return dir;
  let template = templateDir();
  if (!hasCredentials(template)) template = await activateTemplate(target);
  copyCredentials(template, dir);
  return dir;
}
