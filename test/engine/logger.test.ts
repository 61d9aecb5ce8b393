// The per-task log: whole lines only (chunks of parallel commands are re-assembled per process and
// stream), everything in the file, only the shown levels on screen, secrets redacted in both.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskLog, type LogLevel } from '../../lib/engine/logger.js';
import { registerSecret } from '../../lib/engine/redact.js';
import { tempDir } from '../helpers/engine.js';

function open(verbose: boolean) {
  const t = tempDir();
  const lines: [LogLevel, string][] = [];
  const log = new TaskLog({ task: 'deploy:api', file: path.join(t.dir, 'logs', 'deploy:api.log'), verbose, onLine: (level, line) => lines.push([level, line]) });
  return { t, log, lines, file: () => fs.readFileSync(log.file, 'utf8') };
}

const out = (id: string, data: string) => ({ kind: 'stdout' as const, id, data: Buffer.from(data) });
const end = (id: string, exitCode = 0) => ({ kind: 'end' as const, id, exitCode, signal: null, duration: 1, error: null });

test('chunks of two commands running at once come out as whole lines, never mixed mid-line', async () => {
  const { t, log, lines, file } = open(true);
  log.zxLog(out('p1', 'buil'));
  log.zxLog(out('p2', 'uploading 1'));
  log.zxLog(out('p1', 'ding step 1\nbuilding st'));
  log.zxLog(out('p2', '0%\nuploading 20%\nupl'));
  log.zxLog(out('p1', 'ep 2\n'));
  log.zxLog(end('p2'));
  log.zxLog(end('p1'));
  await log.close();
  assert.equal(lines.map(([, l]) => l), ['building step 1', 'uploading 10%', 'uploading 20%', 'building step 2', 'upl']);
  assert.equal(file().split('\n').slice(1, 6), ['building step 1', 'uploading 10%', 'uploading 20%', 'building step 2', 'upl']);
  t.cleanup();
});

test('without --verbose the screen gets logger lines only; the file gets everything', async () => {
  const { t, log, lines, file } = open(false);
  log.logger.info('creating bucket');
  log.logger.debug('request id 42');
  log.zxLog({ kind: 'cmd', cmd: 'gcloud storage buckets create gs://b', cwd: '/', id: 'p1' });
  log.zxLog(out('p1', 'raw output\n'));
  log.zxLog(end('p1', 3));
  log.logger.warn('slow API');
  await log.close();
  assert.equal(lines, [
    ['info', 'creating bucket'],
    ['warn', 'slow API'],
  ]);
  const text = file();
  for (const line of ['creating bucket', '[debug] request id 42', '[cmd] $ gcloud storage buckets create gs://b', 'raw output', '[debug] exit code 3', '[warn] slow API']) {
    assert.ok(text.split('\n').includes(line), `file has ${line}`);
  }
  t.cleanup();
});

test('registered secrets are redacted on screen and in the file', async () => {
  registerSecret('s3cr3t-password-value');
  const { t, log, lines, file } = open(true);
  log.logger.info('password is s3cr3t-password-value');
  log.zxLog(out('p1', 'echo s3cr3t-password-value\n'));
  await log.close();
  assert.not.match(JSON.stringify(lines), 's3cr3t');
  assert.not.match(file(), 's3cr3t');
  assert.match(file(), 'password is ***');
  t.cleanup();
});

test.run();
