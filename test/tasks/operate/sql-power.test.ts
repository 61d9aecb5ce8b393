// sql:stop / sql:start against the sandbox with the real gcloud: round trips, repeated runs (idempotent),
// the confirmation of sql:stop on a terminal, its refusal without one, and the cost difference shown.
import { gcloudTests } from '../../helpers/skip.js';
import * as assert from 'uvu/assert';
import { expectCode, loud, startOpsSandbox, type OpsSandbox } from './harness.js';
import type { SqlPowerOutput } from '../../../tasks/operate/sql-power.js';
import { infra } from '../../../tasks.config.js';

const test = gcloudTests('operate/sql-power tests');

let sb: OpsSandbox;
const instance = 'digitwinlive-db-dev';

/** What gcloud itself says about the instance. */
async function policy(): Promise<string> {
  const i = await sb.gcloudJson<any>(['sql', 'instances', 'describe', instance]);
  return i.settings.activationPolicy;
}

async function power(action: 'start' | 'stop', ...flags: string[]): Promise<{ out: SqlPowerOutput; text: string }> {
  const r = await sb.cli([`sql:${action}`, '--json', ...flags]);
  expectCode(r, 0, `sql:${action}`);
  return { out: sb.outputs<SqlPowerOutput>(r, `sql:${action}`), text: r.stderr };
}

test.before(loud(async () => {
  sb = await startOpsSandbox();
  expectCode(await sb.cli(['apis:enable']), 0, 'apis:enable');
  // The instance as sql:create makes it (created directly: this file tests start/stop, not setup).
  // With the tool's labels: sql:stop and sql:start act only on an instance the tool manages.
  const made = await sb.gcloud(['beta', 'sql', 'instances', 'create', instance, '--database-version=POSTGRES_15', '--tier=db-f1-micro', `--region=${sb.region}`, '--storage-size=10', '--storage-type=SSD',
    `--labels=app=${infra.app},environment=development,managed-by=${infra.managedBy}`]);
  assert.is(made.code, 0, made.stderr);
}));
test.after(async () => {
  await sb?.stop();
});

test('sql:start on a running instance says so and changes nothing', async () => {
  const { out, text } = await power('start');
  assert.is(out.changed, false);
  assert.is(out.activationPolicy, 'ALWAYS');
  assert.match(text, /already running/);
  assert.is(await policy(), 'ALWAYS');
});

test('sql:stop without a terminal and without --yes is refused before anything changes', async () => {
  const r = await sb.cli(['sql:stop']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /destructive and there is no terminal/);
  assert.match(r.stderr, /--yes/);
  assert.not.match(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  assert.is(await policy(), 'ALWAYS');
});

test('sql:stop on a terminal: answering no changes nothing; yes stops it', async () => {
  const no = await sb.tty(['sql:stop'], [['Stop Cloud SQL instance digitwinlive-db-dev in project digitwin-sandbox\\?[^\\n]*\\[y/N\\]', 'n']]);
  assert.is(no.answered, 1, no.stdout);
  assert.is(no.code, 0, no.stdout);
  assert.match(no.stdout, /services that use the database \(api-gateway-dev, websocket-server-dev\) fail/);
  assert.match(no.stdout, /Not stopped: nothing changed/);
  assert.is(await policy(), 'ALWAYS');

  const yes = await sb.tty(['sql:stop'], [['\\[y/N\\]', 'y']]);
  assert.is(yes.code, 0, yes.stdout);
  assert.is(await policy(), 'NEVER');
  assert.match(yes.stdout, /STOPPED \(activation policy NEVER\)/);
  // db-f1-micro: the tier price is saved, storage stays.
  assert.match(yes.stdout, /Monthly cost: \$9\.37 → \$1\.70 \(saves \$7\.67 per month while stopped\)/);
});

test('stopping a stopped instance succeeds and says so; start and stop round trips, repeated', async () => {
  const again = await power('stop', '--yes');
  assert.is(again.out.changed, false);
  assert.match(again.text, /already stopped/);
  assert.is(await policy(), 'NEVER');

  const started = await power('start');
  assert.is(started.out.changed, true);
  assert.is(started.out.activationPolicy, 'ALWAYS');
  assert.is(started.out.state, 'RUNNABLE');
  assert.is(started.out.monthlyBefore, 1.7);
  assert.is(started.out.monthlyAfter, 9.37);
  assert.is(await policy(), 'ALWAYS');
  const startedAgain = await power('start');
  assert.is(startedAgain.out.changed, false);

  const stopped = await power('stop', '--yes');
  assert.is(stopped.out.changed, true);
  assert.is(stopped.out.state, 'STOPPED');
  assert.is(await policy(), 'NEVER');
  const restarted = await power('start');
  assert.is(restarted.out.changed, true);
  assert.is(await policy(), 'ALWAYS');
});

test('no instance: a clear error naming the task that creates it', async () => {
  const gone = await sb.gcloud(['sql', 'instances', 'delete', instance]);
  assert.is(gone.code, 0, gone.stderr);
  const r = await sb.cli(['sql:start']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /Cloud SQL instance digitwinlive-db-dev does not exist in project digitwin-sandbox/);
  assert.match(r.stderr, /pnpm task sql:create/);
});

test.run();
