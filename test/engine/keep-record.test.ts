// keepRecordOnFailure: a task whose failure leaves the world as it was keeps the record of its last
// success, so going back to that success's inputs is cached; any other task loses its record when it
// fails (today's rule), so the same inputs run again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskDef } from '../../lib/engine/types.js';
import { runTasks, tempDir } from '../helpers/engine.js';

/** A task reading input.txt: it fails while the file says "broken". */
function fileTask(name: string, keepRecordOnFailure: boolean): TaskDef<{ [k: string]: string }> {
  return {
    name,
    description: name,
    inputs: { files: [`${name}.txt`] },
    ...(keepRecordOnFailure ? { keepRecordOnFailure } : {}),
    async run(ctx) {
      const text = fs.readFileSync(path.join(ctx.paths.root, `${name}.txt`), 'utf8');
      if (text === 'broken') throw new Error(`${name} failed`);
      return { text };
    },
  };
}

test('a failed run keeps the last good record only for a task that declares it', async () => {
  const t = tempDir();
  const tasks = [fileTask('build', true), fileTask('migrate', false)];
  const write = (text: string) => tasks.forEach((task) => fs.writeFileSync(path.join(t.dir, `${task.name}.txt`), text));
  const run = () => runTasks({ root: t.dir, stateDir: t.stateDir, tasks, options: { continueOnError: true } });
  const statuses = (o: Awaited<ReturnType<typeof run>>) => Object.fromEntries(o.results.map((r) => [r.name, r.status]));

  write('good');
  assert.equal(statuses(await run()), { build: 'ran', migrate: 'ran' });
  write('broken');
  assert.equal(statuses(await run()), { build: 'failed', migrate: 'failed' });
  write('good');
  const back = await run();
  assert.equal(statuses(back), { build: 'cached', migrate: 'ran' });
  assert.equal(back.byName.get('build')!.outputs, { text: 'good' }, 'the last good outputs');
  // The kept record still only matches its own inputs: new inputs run.
  write('better');
  assert.equal(statuses(await run()), { build: 'ran', migrate: 'ran' });
  t.cleanup();
});

test.run();
