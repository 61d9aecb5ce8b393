// Differences between what exists and what tasks.config.ts says, one readable line per difference.
// Pure functions of the discovered details and the resolved config (unit-tested without a cloud).
import { missingRoles, serviceAccountMember, type IamPolicy } from '../shared/common.js';
import type { BucketDetails, ServiceDetails, SqlDetails } from './discover.js';
import type { ResolvedInfra, ResolvedService } from '../../lib/gcp/infra.js';

const rules = (list: { prefix: string; ageDays: number }[]) =>
  list.length ? [...list].sort((a, b) => a.prefix.localeCompare(b.prefix)).map((r) => `${r.prefix || '(all)'} after ${r.ageDays} d`).join(', ') : 'none';

export function bucketDrift(wanted: ResolvedInfra['buckets'][number], actual: BucketDetails): string[] {
  return rules(actual.lifecycle) === rules(wanted.lifecycle) ? [] : [`lifecycle deletes ${rules(actual.lifecycle)} (config: ${rules(wanted.lifecycle)})`];
}

export function sqlDrift(wanted: ResolvedInfra['sql'], actual: SqlDetails): string[] {
  const out: string[] = [];
  const differ = (what: string, is: unknown, want: unknown) => {
    if (is !== want) out.push(`${what} ${is ?? 'unset'} (config: ${want})`);
  };
  differ('tier', actual.tier, wanted.tier);
  differ('version', actual.databaseVersion, wanted.databaseVersion);
  differ('availability', actual.availabilityType, wanted.availabilityType);
  differ('storage auto-increase', actual.autoResize, wanted.storageAutoIncrease);
  differ('backup start', actual.backupStartTime, wanted.backupStartTime);
  differ('max_connections', actual.maxConnections, wanted.maxConnections);
  return out;
}

/** Roles the config grants the service account that it lacks, and roles it has that the config does not give. */
export function roleDrift(wanted: ResolvedInfra['serviceAccount'], policy: IamPolicy | null): { missing: string[]; extra: string[] } {
  const member = serviceAccountMember(wanted.email);
  const granted = (policy?.bindings ?? []).filter((b) => !b.condition && (b.members ?? []).includes(member)).map((b) => b.role);
  return { missing: missingRoles(policy, wanted.roles, member), extra: granted.filter((r) => !wanted.roles.includes(r)) };
}

/** cpu "1" = "1000m"; memory "1Gi" = "1024Mi". */
const cpuMillis = (v: string | null) => (v === null ? null : v.endsWith('m') ? Number(v.slice(0, -1)) : Number(v) * 1000);
const memoryMi = (v: string | null) => (v === null ? null : v.endsWith('Gi') ? Number(v.slice(0, -2)) * 1024 : Number(v.replace(/Mi$/, '')));

/**
 * What a deployed service should look like: limits, scaling, timeout, identity, the plain variables a
 * deploy gives it (`expectedEnv`, from deploy's own serviceEnvVars) and the Secret Manager variables it needs.
 */
export function serviceDrift(infra: ResolvedInfra, wanted: ResolvedService, actual: ServiceDetails, expectedEnv: string[]): string[] {
  const out: string[] = [];
  // Compared normalised (`is`, `want`), shown as written (`shown`, `wanted`).
  const differ = (what: string, is: unknown, want: unknown, shown: unknown = is, shownWant: unknown = want) => {
    if (is !== want) out.push(`${what} ${shown ?? 'unset'} (config: ${shownWant ?? 'unset'})`);
  };
  differ('cpu', cpuMillis(actual.cpu), cpuMillis(wanted.cpu), actual.cpu, wanted.cpu);
  differ('memory', memoryMi(actual.memory), memoryMi(wanted.memory), actual.memory, wanted.memory);
  differ('min instances', actual.minInstances, wanted.minInstances);
  differ('max instances', actual.maxInstances, wanted.maxInstances);
  differ('timeout', actual.timeoutSeconds, wanted.timeoutSeconds);
  differ('service account', actual.serviceAccount, infra.serviceAccount.email);

  const expectedSecrets = wanted.needs.secrets ? infra.secrets : [];
  const missingVars = expectedEnv.filter((name) => !actual.env.includes(name));
  if (missingVars.length) out.push(`env vars missing: ${missingVars.join(', ')}`);
  // Besides those, a service legitimately gets the other services' URLs (once they are deployed).
  const known = new Set([...expectedEnv, ...wanted.env, ...infra.services.map((s) => s.urlEnvVar), ...expectedSecrets.map((s) => s.envVar)]);
  const unknownVars = actual.env.filter((name) => !known.has(name));
  if (unknownVars.length) out.push(`env vars not in config: ${unknownVars.join(', ')}`);

  const missingSecrets = expectedSecrets.filter((s) => actual.secretEnv[s.envVar] !== s.name).map((s) => `${s.envVar}←${s.name}`);
  if (missingSecrets.length) out.push(`secrets not mounted: ${missingSecrets.join(', ')}`);
  const extraSecrets = Object.keys(actual.secretEnv).filter((v) => !expectedSecrets.some((s) => s.envVar === v));
  if (extraSecrets.length) out.push(`secrets not in config: ${extraSecrets.join(', ')}`);
  return out;
}
