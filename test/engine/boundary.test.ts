// The engine knows no cloud: nothing under lib/engine imports the Google Cloud layer, the sandbox, the
// embedded PostgreSQL or the task definitions. A platform plugs in through engine/platform.ts instead.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/cli.js';

const engineDir = path.join(repoRoot, 'lib', 'engine');
const forbidden = ['lib/gcp', 'lib/sandbox', 'lib/postgres', 'tasks'].map((p) => path.join(repoRoot, p));

/** Every module specifier of a file: static imports, re-exports and dynamic import() calls. */
function specifiers(source: string): string[] {
  return [...source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

test('lib/engine imports nothing of lib/gcp, lib/sandbox, lib/postgres or tasks/', () => {
  const offenders: string[] = [];
  const files = fs.readdirSync(engineDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 10, `expected the engine's modules under ${engineDir}`);
  for (const file of files) {
    const full = path.join(engineDir, file);
    for (const spec of specifiers(fs.readFileSync(full, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(full), spec);
      if (forbidden.some((dir) => target === dir || target.startsWith(dir + path.sep))) offenders.push(`lib/engine/${file} → ${spec}`);
    }
  }
  assert.equal(offenders, []);
});

test('the boundary check sees a forbidden import when there is one', () => {
  const target = path.resolve(engineDir, '../gcp/gcloud.js');
  assert.ok(forbidden.some((dir) => target.startsWith(dir + path.sep)));
  assert.equal(specifiers(`import { x } from '../gcp/gcloud.js';\nconst y = await import('../sandbox/index.js');`), ['../gcp/gcloud.js', '../sandbox/index.js']);
});

test.run();
