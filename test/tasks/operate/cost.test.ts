// `cost` against the sandbox with known sizes and tiers: objects of known size uploaded with gcloud,
// Cloud SQL by tier and activation policy (stopped = storage only), REGIONAL doubling in production.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectCode, loud, startOpsSandbox, type OpsSandbox } from './harness.js';
import type { CostReport } from '../../../tasks/operate/cost.js';
import { infra } from '../../../tasks.config.js';

const test = gcloudTests('operate/cost tests');

let sb: OpsSandbox;
const prices = infra.prices;
const MiB = 1024 * 1024;

async function cost(...flags: string[]): Promise<{ report: CostReport; text: string }> {
  const r = await sb.cli(['cost', '--json', ...flags, '--', '--timeout=90']);
  expectCode(r, 0, 'cost');
  return { report: sb.outputs<CostReport>(r, 'cost'), text: r.stderr };
}
const line = (report: CostReport, item: RegExp) => {
  const found = report.lines.find((l) => item.test(l.item));
  if (!found) throw new Error(`no cost line ${item}: ${JSON.stringify(report.lines)}`);
  return found;
};
const labels = (env: string) => `app=${infra.app},environment=${env},managed-by=${infra.managedBy}`;
const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);

test.before(loud(async () => {
  sb = await startOpsSandbox();
  expectCode(await sb.cli(['apis:enable', 'buckets:create', 'secrets:create']), 0, 'apis, buckets, secrets');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-ops-cost-'));
  fs.writeFileSync(path.join(dir, 'three.bin'), Buffer.alloc(3 * MiB, 7));
  fs.writeFileSync(path.join(dir, 'one.bin'), Buffer.alloc(1 * MiB, 9));
  const uploads = await Promise.all([
    sb.gcloud(['storage', 'cp', path.join(dir, 'three.bin'), 'gs://clone-voice-models-development/models/three.bin']),
    sb.gcloud(['storage', 'cp', path.join(dir, 'one.bin'), 'gs://clone-documents-development/one.bin']),
    // With the tool's labels: only what it manages is reported (and stopped) as its own.
    sb.gcloud(['beta', 'sql', 'instances', 'create', 'digitwinlive-db-dev', '--database-version=POSTGRES_15', '--tier=db-f1-micro', `--region=${sb.region}`, '--storage-size=10', `--labels=${labels('development')}`]),
    sb.gcloud(['beta', 'sql', 'instances', 'create', 'digitwinlive-db', '--database-version=POSTGRES_15', '--tier=db-custom-1-3840', '--availability-type=REGIONAL', `--region=${sb.region}`, '--storage-size=20', `--labels=${labels('production')}`]),
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const u of uploads) assert.is(u.code, 0, u.stderr);
}));
test.after(async () => {
  await sb?.stop();
});

test('storage from the actual bucket sizes, Cloud SQL by tier, secrets by version, a correct total', async () => {
  const { report, text } = await cost();
  const storage = line(report, /^Cloud Storage \(4 buckets\)$/);
  assert.is(storage.detail, '4.00 MiB stored');
  close(storage.monthly, (4 / 1024) * prices.storageGbMonth);
  const sql = line(report, /^Cloud SQL digitwinlive-db-dev$/);
  assert.is(sql.detail, 'db-f1-micro, running');
  close(sql.monthly, prices.sqlTierMonthly['db-f1-micro']);
  close(report.lines[report.lines.indexOf(sql) + 1].monthly, 10 * prices.sqlStorageGbMonthSsd);
  const secrets = line(report, /^Secret Manager$/);
  assert.is(secrets.detail, '3 active versions');
  close(secrets.monthly, 3 * prices.secretVersionMonth);
  assert.equal(report.incomplete, []);
  const expected = prices.sqlTierMonthly['db-f1-micro'] + 10 * prices.sqlStorageGbMonthSsd + (4 / 1024) * prices.storageGbMonth + 3 * prices.secretVersionMonth;
  close(report.total, expected);
  assert.match(text, /Total\s+estimate\s+\$9\.55/);
  // websocket-server keeps one instance warm (long-lived connections): billed all the time, and said so.
  assert.match(text, /websocket-server\S* keeps 1 instance\(s\) warm/);
  assert.match(text, /about \$25\.00\/month saved/);
  assert.match(text, `list prices of ${prices.takenOn}`);
  assert.match(text, 'https://console.cloud.google.com/billing/linkedaccount?project=digitwin-sandbox');
});

test('a stopped instance costs its storage only', async () => {
  expectCode(await sb.cli(['sql:stop', '--yes']), 0, 'sql:stop');
  const { report } = await cost();
  const sql = line(report, /^Cloud SQL digitwinlive-db-dev$/);
  assert.is(sql.detail, 'db-f1-micro, stopped (storage only)');
  assert.is(sql.monthly, 0);
  close(report.lines[report.lines.indexOf(sql) + 1].monthly, 10 * prices.sqlStorageGbMonthSsd);
});

test('production: the REGIONAL multiplier applies to the tier', async () => {
  const { report } = await cost('--env=production');
  const sql = line(report, /^Cloud SQL digitwinlive-db$/);
  assert.is(sql.detail, `db-custom-1-3840 ×${prices.sqlRegionalMultiplier} REGIONAL, running`);
  close(sql.monthly, prices.sqlTierMonthly['db-custom-1-3840'] * prices.sqlRegionalMultiplier);
  close(report.lines[report.lines.indexOf(sql) + 1].monthly, 20 * prices.sqlStorageGbMonthSsd);
  // The development buckets are not production's.
  assert.is(line(report, /^Cloud Storage/).item, 'Cloud Storage (0 buckets)');
});

test.run();
