// The GitHub Actions recipes in examples/ cannot run here (no runner): parsed with zx's YAML, their fields
// are checked against what GitHub reads (triggers, OIDC permission, concurrency, steps) and every
// `pnpm task` line against this repository's own command line and task catalogue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { YAML } from 'zx';
import { parseArgs } from '../../lib/engine/args.js';
import { gcpPlatform } from '../../lib/gcp/platform.js';
import { repoRoot } from '../helpers/cli.js';
import config from '../../tasks.config.js';

interface Step { name?: string; uses?: string; with?: Record<string, unknown>; run?: string }
interface Job { 'runs-on': string; permissions?: Record<string, string>; env?: Record<string, string>; steps: Step[] }
interface Workflow { name: string; on: Record<string, any>; concurrency?: { group: string; 'cancel-in-progress'?: boolean }; jobs: Record<string, Job> }

const load = (file: string) => YAML.parse(fs.readFileSync(path.join(repoRoot, 'examples', 'github-actions', file), 'utf8')) as Workflow;
const taskNames = new Set(config.tasks.map((t) => t.name));

/** The `pnpm task` command lines of a job, as argv (a quoted "$TASK" becomes each value it can take). */
function taskCommands(job: Job, values: Record<string, string[]> = {}): string[][] {
  const lines = job.steps.flatMap((s) => (s.run ?? '').split('\n')).filter((l) => l.trim().startsWith('pnpm task '));
  return lines.flatMap((line) => {
    const words = line.trim().split(/\s+/).slice(2).map((w) => w.replace(/^"(.*)"$/, '$1'));
    const variable = words.find((w) => /^\$\w+$/.test(w));
    return variable ? (values[variable.slice(1)] ?? []).map((v) => words.map((w) => (w === variable ? v : w))) : [words];
  });
}

function checkJob(job: Job): void {
  assert.is(job.permissions?.['id-token'], 'write', 'Workload Identity Federation needs the OIDC token');
  assert.match(job.env?.GCP_TASKS_STATE ?? '', /^gs:\/\/.+\/[\w-]+$/, 'the bucket backend is set');
  for (const step of job.steps) {
    assert.ok(!!step.uses !== !!step.run, `a step has uses or run, not both: ${JSON.stringify(step)}`);
    if (step.with) assert.ok(step.uses, 'with: belongs to a uses: step');
  }
  const index = (uses: string) => job.steps.findIndex((s) => s.uses?.startsWith(`${uses}@`));
  const auth = job.steps[index('google-github-actions/auth')];
  assert.ok(auth, 'google-github-actions/auth is used');
  assert.ok(auth!.with?.workload_identity_provider && auth!.with?.service_account, 'auth uses a workload identity provider and a service account');
  assert.not.ok('credentials_json' in (auth!.with ?? {}), 'no key file');
  const node = job.steps[index('actions/setup-node')];
  assert.is(node?.with?.cache, 'pnpm');
  assert.ok(index('pnpm/action-setup') >= 0 && index('pnpm/action-setup') < index('actions/setup-node'), 'pnpm is installed before setup-node caches its store');
  assert.ok(index('google-github-actions/auth') < job.steps.findIndex((s) => s.run?.includes('pnpm task')), 'authenticated before the tasks run');
}

test('deploy.yml deploys production on push to main, one run per environment at a time', () => {
  const wf = load('deploy.yml');
  assert.equal(wf.on.push.branches, ['main']);
  assert.ok(wf.concurrency?.group.includes('production'));
  assert.is(wf.concurrency?.['cancel-in-progress'], false, 'a deploy is never cancelled halfway');
  const jobs = Object.values(wf.jobs);
  assert.is(jobs.length, 1);
  checkJob(jobs[0]!);
  const commands = taskCommands(jobs[0]!);
  assert.equal(commands.map((argv) => parseArgs(argv, gcpPlatform.flags)).map((o) => [o.targets, o.env]), [[['deploy:all'], 'production']]);
});

test('sql-nights.yml stops and starts Cloud SQL on a schedule or by hand, in the deploy\'s concurrency group', () => {
  const wf = load('sql-nights.yml');
  const crons = (wf.on.schedule as { cron: string }[]).map((s) => s.cron);
  assert.is(crons.length, 2);
  for (const cron of crons) assert.is(cron.trim().split(/\s+/).length, 5, `five cron fields: ${cron}`);
  assert.equal(wf.on.workflow_dispatch.inputs.action.options, ['sql:stop', 'sql:start']);
  assert.is(wf.concurrency?.group, load('deploy.yml').concurrency?.group, 'never while a deploy runs');
  const job = Object.values(wf.jobs)[0]!;
  checkJob(job);
  // The evening cron stops, any other schedule starts, a manual run does what was chosen.
  assert.ok(job.env?.TASK?.includes(`github.event.schedule == '${crons[0]}' && 'sql:stop' || 'sql:start'`), job.env?.TASK);
  assert.ok(job.env?.TASK?.includes("github.event_name == 'workflow_dispatch' && inputs.action"), job.env?.TASK);
  const commands = taskCommands(job, { TASK: ['sql:stop', 'sql:start'] });
  assert.is(commands.length, 2);
  for (const argv of commands) {
    const opts = parseArgs(argv, gcpPlatform.flags);
    assert.is(opts.env, 'production');
    assert.ok(opts.yes, 'sql:stop asks, and a runner has no terminal');
  }
});

test('every task a workflow runs exists', () => {
  const named = [...taskCommands(Object.values(load('deploy.yml').jobs)[0]!), ...taskCommands(Object.values(load('sql-nights.yml').jobs)[0]!, { TASK: ['sql:stop', 'sql:start'] })]
    .flatMap((argv) => parseArgs(argv, gcpPlatform.flags).targets);
  assert.ok(named.length >= 3);
  for (const name of named) assert.ok(taskNames.has(name), `unknown task ${name}`);
});

test.run();
