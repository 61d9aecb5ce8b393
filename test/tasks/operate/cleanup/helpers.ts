// A full development project for the cleanup tests: what `setup` creates, the three Cloud Run services,
// and resources that are not the tool's (a Terraform state bucket, another team's service), which must
// survive every cleanup. Plus a reader of what exists, through Google's REST API (no gcloud process per list).
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

/** What exists (short names), as Google's REST API lists it: the lists gcloud's list commands make. */
export async function existingNames(sb: OpsSandbox): Promise<Existing> {
  const last = (s: string) => s.split('/').pop()!;
  const get = sb.sandbox.get;
  const p = sb.project;
  const [buckets, sql, secrets, services, registries, sas] = (await Promise.all([
    get(`/storage/v1/b?project=${p}`),
    get(`/sql/v1beta4/projects/${p}/instances`),
    get(`/v1/projects/${p}/secrets`),
    get(`/apis/serving.knative.dev/v1/namespaces/${p}/services`, { host: `${sb.region}-run.sandbox` }),
    get(`/v1/projects/${p}/locations/${sb.region}/repositories`),
    get(`/v1/projects/${p}/serviceAccounts`),
  ])) as { items?: { name: string }[]; secrets?: { name: string }[]; repositories?: { name: string }[]; accounts?: { email: string }[] }[];
  return {
    buckets: (buckets!.items ?? []).map((b) => b.name),
    sql: (sql!.items ?? []).map((i) => i.name),
    secrets: (secrets!.secrets ?? []).map((s) => last(s.name)),
    services: ((services as { items?: { metadata: { name: string } }[] }).items ?? []).map((s) => s.metadata.name),
    registries: (registries!.repositories ?? []).map((r) => last(r.name)),
    sas: (sas!.accounts ?? []).map((a) => a.email.split('@')[0]!),
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
