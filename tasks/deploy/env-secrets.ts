// `${SECRET_*}` placeholders in the env file become Secret Manager mounts. A service declaring KEY whose
// value is `${SECRET_NAME}` gets `--set-secrets KEY=<secret>:latest`, where <secret> is the config's
// secret whose envVar is NAME, else `name-in-kebab-case` with the environment's suffix. secrets:env checks,
// before any build, that every such secret exists: it creates the missing ones whose value the user
// supplies (SECRET_VALUE_<NAME>, on stdin, as setup does), and otherwise stops naming each missing secret
// with the command that creates it. A placeholder is never dropped silently.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { envFileNames } from '../../lib/engine/env.js';
import { UserError } from '../../lib/engine/errors.js';
import type { ResolvedInfra, ResolvedService } from '../../lib/gcp/infra.js';
import { defineTask } from '../../lib/index.js';
import type { FingerprintContext, TaskContext } from '../../lib/engine/types.js';
import { createOrAdopt, forEachResource, hasBinding, labelsFlag, serviceAccountMember, suppliedSecretVar } from '../shared/common.js';
import { TASK } from '../shared/task-names.js';
import { readSecret, readSecretPolicy } from '../shared/cloud-reads.js';

const PLACEHOLDER = /^\$\{SECRET_([A-Z0-9_]+)\}$/;
const ACCESSOR = 'roles/secretmanager.secretAccessor';

export interface SecretMount {
  /** The variable the service reads. */
  key: string;
  /** Secret Manager secret. */
  secret: string;
  /** The NAME of `${SECRET_NAME}` (SECRET_VALUE_<NAME> supplies a first value). */
  placeholder?: string;
}

/** The Secret Manager secret a `${SECRET_NAME}` placeholder names. */
export function placeholderSecret(infra: Pick<ResolvedInfra, 'secrets' | 'suffix'>, name: string): string {
  return infra.secrets.find((s) => s.envVar === name)?.name ?? `${name.toLowerCase().replaceAll('_', '-')}${infra.suffix}`;
}

/**
 * KEY → NAME for every `${SECRET_NAME}` placeholder of the environment's env files (later files win; a real
 * value, in a later file or the process environment, replaces a placeholder). The engine keeps placeholders
 * out of ctx.vars, so they are read here from the files.
 */
export function envPlaceholders(ctx: Pick<FingerprintContext, 'env' | 'vars'> & { paths: Pick<FingerprintContext['paths'], 'envDir'> }): Record<string, string> {
  const found: Record<string, string> = {};
  for (const file of envFileNames(ctx.env)) {
    let text: string;
    try {
      text = readFileSync(path.join(ctx.paths.envDir, file), 'utf8');
    } catch {
      continue;
    }
    for (const [key, value] of Object.entries(parse(text))) {
      const name = PLACEHOLDER.exec(value.trim())?.[1];
      if (name) found[key] = name;
      else delete found[key];
    }
  }
  for (const key of Object.keys(found)) if (ctx.vars[key] !== undefined && ctx.vars[key] !== '') delete found[key];
  return found;
}

/** Every secret a service mounts: its config secrets, then the placeholders among its declared keys. */
export function secretMounts(infra: ResolvedInfra, placeholders: Readonly<Record<string, string>>, service: ResolvedService): SecretMount[] {
  const mounts = new Map<string, SecretMount>(service.secrets.map((s) => [s.envVar, { key: s.envVar, secret: s.name }]));
  for (const key of service.env) {
    const name = placeholders[key];
    if (name && !mounts.has(key)) mounts.set(key, { key, secret: placeholderSecret(infra, name), placeholder: name });
  }
  return [...mounts.values()];
}

/** The `--set-secrets` value: KEY=secret:latest for each mount. */
export function secretsFlagValue(mounts: SecretMount[]): string {
  return mounts.map((m) => `${m.key}=${m.secret}:latest`).join(',');
}

/** The placeholder secrets of every service, one entry per secret. */
export function placeholderMounts(infra: ResolvedInfra, placeholders: Readonly<Record<string, string>>): SecretMount[] {
  const bySecret = new Map<string, SecretMount>();
  for (const service of infra.services) for (const m of secretMounts(infra, placeholders, service)) if (m.placeholder && !bySecret.has(m.secret)) bySecret.set(m.secret, m);
  return [...bySecret.values()];
}

async function ensureMount(ctx: TaskContext, mount: SecretMount): Promise<'exists' | 'created' | 'missing'> {
  const describe = () => readSecret(ctx, mount.secret);
  let state: 'exists' | 'created' = 'exists';
  if (!(await describe())) {
    const value = ctx.vars[suppliedSecretVar(mount.placeholder!)];
    if (!value) return 'missing';
    await createOrAdopt(`secret ${mount.secret}`, () => ctx.gcloud.mutate(
      ['secrets', 'create', mount.secret, '--replication-policy=automatic', `--labels=${labelsFlag(ctx.infra.labels)}`, '--data-file=-'],
      { stdin: value, secret: true },
    ), describe);
    state = 'created';
  }
  // The services run as the config's service account: it must be able to read the secret.
  const member = serviceAccountMember(ctx.infra.serviceAccount.email);
  if (!hasBinding(await readSecretPolicy(ctx, mount.secret), ACCESSOR, member)) {
    await ctx.gcloud.mutate(['secrets', 'add-iam-policy-binding', mount.secret, `--member=${member}`, `--role=${ACCESSOR}`, '--condition=None']);
  }
  return state;
}

export const secretsEnv = defineTask({
  name: TASK.secretsEnv,
  description: 'Check that every ${SECRET_*} placeholder of the env file names an existing secret (creating the ones whose SECRET_VALUE_<NAME> is given)',
  deps: [TASK.iamCreate],
  inputs: {
    config: (fx) => ({ mounts: placeholderMounts(fx.infra, envPlaceholders(fx)).map((m) => ({ ...m })), serviceAccount: fx.infra.serviceAccount.email }),
  },
  check: async (ctx) => {
    const found = await Promise.all(
      placeholderMounts(ctx.infra, envPlaceholders(ctx)).map((m) => readSecret(ctx, m.secret)),
    );
    return found.every(Boolean);
  },
  async run(ctx) {
    const mounts = placeholderMounts(ctx.infra, envPlaceholders(ctx));
    const states = await forEachResource(mounts, (m) => `secret ${m.secret}`, (m) => ensureMount(ctx, m));
    const missing = mounts.filter((_, i) => states[i] === 'missing');
    if (missing.length) {
      throw new UserError(
        `${missing.length} secret${missing.length === 1 ? '' : 's'} named by \${SECRET_*} placeholders in ${ctx.envFile.path} do${missing.length === 1 ? 'es' : ''} not exist: ${missing.map((m) => `${m.secret} (for ${m.key})`).join(', ')}`,
        {
          hint: [
            'Nothing was built or deployed. Create each (the value is read from stdin, never from the command line):',
            ...missing.map((m) => `  gcloud secrets create ${m.secret} --replication-policy=automatic --data-file=- --project=${ctx.project}`),
            `or set ${missing.map((m) => suppliedSecretVar(m.placeholder!)).join(', ')} and run again: the deploy then creates them.`,
          ].join('\n'),
        },
      );
    }
    mounts.forEach((m, i) => ctx.log.info(`${m.key} ← secret ${m.secret} (${states[i] === 'created' ? 'created from the supplied value' : 'exists'})`));
    return { mounts: mounts.map((m) => `${m.key}=${m.secret}`) };
  },
});
