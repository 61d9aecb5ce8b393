// Transient faults: a cold deploy:all on a fresh sandbox project where 10% of API requests are answered
// 429 or 503 (seeded) completes with every resource correct, over 5 seeds. gcloud retries 503s itself; the
// wrapper retries 429s; the REST reads retry both; the summary shows how many retries the tool made.
import { gcloudTests } from '../helpers/skip.js';
import * as assert from 'uvu/assert';
import { DEPLOY_ALL_TASKS, falseRecords, sandboxProject, statusesOf } from './helpers.js';

const SEEDS = [1, 2, 3, 4, 5];
const test = gcloudTests('transient-fault deploys');

for (const seed of SEEDS) {
  test(`seed ${seed}: deploy:all completes through 10% transient 429/503`, async () => {
    const p = await sandboxProject({ env: 'production', seed });
    try {
      await p.sandbox.setFaults({ seed, transientRate: 0.1, transientStatuses: [429, 503] });
      const r = await p.cli(['deploy:all', '--json']);
      const injected = (await p.sandbox.requests()).filter((q) => q.injected && (q.status === 429 || q.status === 503)).length;
      await p.sandbox.setFaults({});
      assert.ok(injected > 0, 'the sandbox injected no transient fault: the run proved nothing');
      assert.is(r.code, 0, r.stderr.slice(-3000));
      const summary = JSON.parse(r.stdout);
      const statuses = statusesOf(r);
      for (const task of DEPLOY_ALL_TASKS) assert.is(statuses[task], 'ran', task);
      assert.equal([...p.records().keys()].sort(), [...DEPLOY_ALL_TASKS].sort());
      assert.equal(await falseRecords(p), []);
      console.log(`  seed ${seed}: ${injected} injected 429/503 answers, ${summary.gcloud.retries + summary.rest.retries} retries by the tool, ${summary.gcloud.calls} gcloud calls, ${summary.rest.requests} REST requests, ${(summary.wallMs / 1000).toFixed(1)} s`);
    } finally {
      await p.stop();
    }
  });
}

test.run();
