// With known secret values in play (supplied for the three secrets), no log file, cache file, summary,
// error message or gcloud argument list — as recorded by the wrapper and as seen in the process table
// while the run goes on — contains them, plain or base64 (the form gcloud prints a secret's payload in).
// gcloud's own configuration folder is searched too: gcloud copies the output of every command into its
// log files there (logs/**).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { sandboxProject } from './helpers.js';

const test = gcloudTests('secret leak checks');
const SECRETS = {
  SECRET_VALUE_JWT_SECRET: 'jwt-Known-Value-4f9c2d7a1b',
  SECRET_VALUE_REFRESH_SECRET: 'refresh-Known-Value-8e3b6a0c5d',
  SECRET_VALUE_DATABASE_PASSWORD: 'dbpass-Known-Value-2c7f1e9b4a',
};

/** Command lines of every process on the machine, read straight from /proc. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

test('supplied secret values appear nowhere but in the (fake) cloud', async () => {
  const p = await sandboxProject({ env: 'production' });
  const seen = new Set<string>();
  let sampling = true;
  let samples = 0;
  const sampler = (async () => {
    while (sampling) {
      for (const line of commandLines()) for (const value of Object.values(SECRETS)) if (line.includes(value)) seen.add(line);
      samples++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const deploy = await p.cli(['deploy:all', '--json', '--verbose'], { env: SECRETS });
    // A failing run with errors: the password secret's access is denied, sql:password must report it.
    await p.sandbox.setFaults({ errors: [{ path: ':access', status: 403, message: 'denied (injected)' }] });
    const failing = await p.cli(['sql:password', '--force', '--verbose', '--json'], { env: SECRETS });
    const deniedAccess = (await p.sandbox.requests()).some((q) => q.injected && q.status === 403 && q.path.endsWith(':access'));
    await p.sandbox.setFaults({});
    sampling = false;
    await sampler;
    assert.is(deploy.code, 0, deploy.stderr.slice(-2000));
    assert.is(failing.code, 1);
    assert.ok(deniedAccess, 'the 403 on the secret access was injected');

    const gcloudConfig = p.sandbox.handle.gcloudEnv.CLOUDSDK_CONFIG!;
    const gcloudLogs = filesUnder(path.join(gcloudConfig, 'logs'));
    assert.ok(gcloudLogs.length > 0, `gcloud wrote no log files under ${gcloudConfig}: the search below would look at nothing`);
    const places: [string, string][] = [
      ['deploy stdout', deploy.stdout], ['deploy stderr', deploy.stderr],
      ['failing stdout', failing.stdout], ['failing stderr', failing.stderr],
      ...[...filesUnder(path.join(p.sandbox.dir, 'task-state')), ...filesUnder(gcloudConfig)].map((f): [string, string] => [f, fs.readFileSync(f, 'latin1')]),
    ];
    // Unpadded, so a value inside a longer padded text still matches; URL-safe base64 too.
    const forms = Object.entries(SECRETS).flatMap(([k, v]) => [[k, v], [`${k} (base64)`, Buffer.from(v).toString('base64').replace(/=+$/, '')], [`${k} (base64url)`, Buffer.from(v).toString('base64url')]]);
    const leaks = places.flatMap(([where, text]) => forms.filter(([, v]) => text.includes(v)).map(([k]) => `${k} in ${where}`));
    assert.equal(leaks, []);
    assert.equal([...seen], [], 'a secret was visible in the process table');
    // The values did reach the cloud (the secrets hold them), so the check above looked at real traffic.
    const access = await p.sandbox.gcloud(['secrets', 'versions', 'access', 'latest', '--secret=jwt-secret']);
    assert.is(access.stdout, SECRETS.SECRET_VALUE_JWT_SECRET);
    console.log(`  process table sampled ${samples} times; ${places.length} outputs, state and gcloud files checked (${gcloudLogs.length} gcloud logs)`);
  } finally {
    sampling = false;
    await p.stop();
  }
});

test.run();
