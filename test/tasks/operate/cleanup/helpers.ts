// A full development project for the cleanup tests: what `setup` creates, the three Cloud Run services,
// and resources that are not the tool's (a Terraform state bucket, another team's service), which must
// survive every cleanup. Plus readers that ask gcloud what exists.
import * as assert from 'uvu/assert';
import { expectCode, startOpsSandbox, type OpsSandbox } from '../harness.js';

export const managed = {
  buckets: ['clone-voice-models-development', 'clone-face-models-development', 'clone-documents-development', 'clone-uploads-development'],
  sql: ['digitwinlive-db-dev'],
  secrets: ['jwt-secret-dev', 'refresh-secret-dev', 'database-password-dev'],
  services: ['api-gateway-dev', 'websocket-server-dev', 'face-processing-service-dev'],
  registries: ['digitwinlive-dev'],
  sas: ['digitwinlive-sa-dev'],
};
export const foreign = { bucket: 'acme-terraform-state', service: 'other-team-api' };

/** `setup`, then the services (deployed directly: these tests are about deleting them), then the foreign resources once. */
export async function fillProject(sb: OpsSandbox): Promise<void> {
  expectCode(await sb.cli(['setup']), 0, 'setup');
  const image = 'us-docker.pkg.dev/cloudrun/container/hello'; // Google's sample: the sandbox accepts it without a build
  // The tool's services carry its labels (deploy sets them); another team's service does not.
  const labels = (name: string) => (managed.services.includes(name) ? ['--labels=app=digitwinlive,environment=development,managed-by=gcp-tasks'] : []);
  const deploy = (name: string) => sb.gcloud(['run', 'deploy', name, `--image=${image}`, `--region=${sb.region}`, '--platform=managed', '--no-allow-unauthenticated', ...labels(name)]);
  const existing = await existingNames(sb);
  const made = await Promise.all([
    ...managed.services.filter((s) => !existing.services.includes(s)).map(deploy),
    ...(existing.services.includes(foreign.service) ? [] : [deploy(foreign.service)]),
    ...(existing.buckets.includes(foreign.bucket) ? [] : [sb.gcloud(['storage', 'buckets', 'create', `gs://${foreign.bucket}`, `--location=${sb.region}`])]),
  ]);
  for (const m of made) assert.is(m.code, 0, m.stderr);
}

export interface Existing { buckets: string[]; sql: string[]; secrets: string[]; services: string[]; registries: string[]; sas: string[] }

/** What gcloud says exists (short names). */
export async function existingNames(sb: OpsSandbox): Promise<Existing> {
  const last = (s: string) => s.split('/').pop()!;
  const [buckets, sql, secrets, services, registries, sas] = await Promise.all([
    sb.gcloudJson<any[]>(['storage', 'buckets', 'list', '--raw']),
    sb.gcloudJson<any[]>(['sql', 'instances', 'list']),
    sb.gcloudJson<any[]>(['secrets', 'list']),
    sb.gcloudJson<any[]>(['run', 'services', 'list', `--region=${sb.region}`, '--platform=managed']),
    sb.gcloudJson<any[]>(['artifacts', 'repositories', 'list', `--location=${sb.region}`]),
    sb.gcloudJson<any[]>(['iam', 'service-accounts', 'list']),
  ]);
  return {
    buckets: (buckets ?? []).map((b) => b.name),
    sql: (sql ?? []).map((i) => i.name),
    secrets: (secrets ?? []).map((s) => last(s.name)),
    services: (services ?? []).map((s) => s.metadata.name),
    registries: (registries ?? []).map((r) => last(r.name)),
    sas: (sas ?? []).map((a) => a.email.split('@')[0]),
  };
}

/** Every managed resource and both foreign ones exist. */
export function assertFull(e: Existing): void {
  for (const [key, names] of Object.entries(managed)) for (const n of names) assert.ok((e as any)[key].includes(n), `${n} exists`);
  assert.ok(e.buckets.includes(foreign.bucket) && e.services.includes(foreign.service), 'foreign resources exist');
}

/** A sandbox copied from the post-setup snapshot, filled with every resource type, checked full. */
export async function startFullProject(): Promise<OpsSandbox> {
  const sb = await startOpsSandbox({ snapshot: 'setup' });
  await fillProject(sb);
  assertFull(await existingNames(sb));
  return sb;
}
