// Each setup task alone (`--only`), in dependency order on a fresh project; --only before a dependency
// ever ran is refused before any request; a dry run sends no mutating request; a key file only on request.
import fs from 'node:fs';
import path from 'node:path';
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { PASSWORD_LABEL } from '../../../tasks/setup/sql.js';
import { isMutating, out, setupSandbox, show, summary, type SetupSandbox } from './helpers.js';

const test = gcloudTests('setup/only tests');

let s: SetupSandbox;

test.before(async () => {
  s = await setupSandbox();
});
test.after(async () => {
  await s?.stop();
});

test('a dry run on a fresh project names every step and why, and sends nothing', async () => {
  await s.clearRequests();
  const r = await s.task(['setup', '--dry-run']);
  assert.is(r.code, 0, show(r));
  for (const name of ['apis:enable', 'registry:create', 'buckets:create', 'iam:create', 'secrets:create', 'sql:create']) {
    assert.match(out(r), new RegExp(`would run\\s+${name} — never ran`), name);
  }
  assert.equal(await s.requests(), []);
});

test('--only before the dependency ever ran: refused, nothing sent', async () => {
  await s.clearRequests();
  const r = await s.task(['secrets:create', '--only']);
  assert.is(r.code, 1, show(r));
  assert.match(out(r), /iam:create/);
  assert.equal(await s.requests(), []);
});

const checks: [string, () => Promise<void>][] = [
  ['apis:enable', async () => {
    const enabled = (await s.json<any[]>(['services', 'list', '--enabled'])).map((x) => x.config?.name);
    assert.ok(s.infra().apis.every((a) => enabled.includes(a)));
  }],
  ['iam:create', async () => void (await s.json(['iam', 'service-accounts', 'describe', s.infra().serviceAccount.email]))],
  ['registry:create', async () => void (await s.json(['artifacts', 'repositories', 'describe', s.infra().registry.name, `--location=${s.sandbox.region}`]))],
  ['buckets:create', async () => {
    for (const b of s.infra().buckets) await s.json(['storage', 'buckets', 'describe', `gs://${b.name}`]);
  }],
  ['secrets:create', async () => {
    for (const x of s.infra().secrets) assert.is((await s.json<any[]>(['secrets', 'versions', 'list', x.name])).length, 1);
  }],
  ['sql:create', async () => void (await s.json(['sql', 'databases', 'describe', s.infra().sql.database, `--instance=${s.infra().sql.instance}`]))],
  // The password follows its secret: the instance records which secret version it was set from.
  ['sql:password', async () => {
    const instance = await s.json<any>(['sql', 'instances', 'describe', s.infra().sql.instance]);
    assert.ok(instance.settings?.userLabels?.[PASSWORD_LABEL], 'the password label records the secret version set');
  }],
];

for (const [name, exists] of checks) {
  test(`${name} --only runs that task alone and creates its resources`, async () => {
    const r = await s.task([name, '--only', '--json']);
    assert.is(r.code, 0, show(r));
    assert.equal(summary(r).tasks.map((t) => [t.name, t.status]), [[name, 'ran']]);
    await exists();
  });
}

test('afterwards setup only prints its summary (every task recorded), and a forced task alone changes nothing', async () => {
  const r = await s.task(['setup', '--json']);
  assert.is(r.code, 0, show(r));
  assert.is(summary(r).gcloud.calls, 0);
  await s.clearRequests();
  const forced = await s.task(['buckets:create', '--only', '--force', '--json']);
  assert.is(forced.code, 0, show(forced));
  assert.equal((await s.requests()).filter(isMutating), []);
});

test('a key file only on request: mode 0600, git-ignored, never a second key', async () => {
  const keys = path.join(s.dir, 'keys');
  assert.not.ok(fs.existsSync(keys), 'no key by default');
  await s.clearRequests();
  const r = await s.task(['iam:create', '--only', '--', '--key-file']);
  assert.is(r.code, 0, show(r));
  const file = path.join(keys, `${s.infra().serviceAccount.name}.json`);
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.is(JSON.parse(fs.readFileSync(file, 'utf8')).client_email, s.infra().serviceAccount.email);
  assert.match(fs.readFileSync(path.join(keys, '.gitignore'), 'utf8'), /^\*$/m);
  const again = await s.task(['iam:create', '--only', '--force', '--', '--key-file']);
  assert.is(again.code, 0, show(again));
  const keyCreations = (await s.requests()).filter((q) => q.method === 'POST' && q.path.endsWith('/keys'));
  assert.is(keyCreations.length, 1, 'one key, kept on the second run');
});

test.run();
