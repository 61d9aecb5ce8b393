// Two deploy:all at once: on the same project and environment one runs and the other refuses naming the
// holder's pid; on different environments both run.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { sandboxProject, waitFor } from './helpers.js';
import * as fs from 'node:fs';
import * as path from 'node:path';

const test = gcloudTests('concurrent runs');

test('same project and environment: one runs, the other refuses with the holder\'s pid', async () => {
  const p = await sandboxProject({ env: 'development' });
  try {
    let firstPid = 0;
    const first = p.cli(['deploy:all'], { onSpawn: (child) => (firstPid = child.pid!) });
    // Start the second once the first holds the lock (its lock file exists).
    const lockDir = path.join(p.sandbox.dir, 'locks');
    await waitFor('the first run holds the lock', () => fs.existsSync(lockDir) && fs.readdirSync(lockDir, { recursive: true }).some((f) => String(f).endsWith('.lock')), 60_000);
    const second = await p.cli(['deploy:all']);
    const firstResult = await first;
    assert.is(firstResult.code, 0, firstResult.stderr.slice(-2000));
    assert.is(second.code, 1);
    assert.match(second.stderr, `pid ${firstPid} `);
    assert.match(second.stderr, /since/);
  } finally {
    await p.stop();
  }
});

test('different environments of one project run side by side', async () => {
  const p = await sandboxProject({ env: 'development' });
  try {
    const env = { GCP_TASKS_SANDBOX_DIR: p.sandbox.dir };
    const [dev, prod] = await Promise.all([
      runCli(['deploy:all', '--sandbox', '--env', 'development'], { env, timeoutMs: 900_000 }),
      runCli(['deploy:all', '--sandbox', '--env', 'production'], { env, timeoutMs: 900_000 }),
    ]);
    assert.is(dev.code, 0, dev.stderr.slice(-2000));
    assert.is(prod.code, 0, prod.stderr.slice(-2000));
  } finally {
    await p.stop();
  }
});

test.run();
