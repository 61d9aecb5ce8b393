// GitHub Actions output (GITHUB_ACTIONS=true): each task's lines folded into one `::group::` when it ends
// (tasks run in parallel, so lines are held per task rather than interleaved), an `::error::` annotation per
// failure, and the run summary as a Markdown table for $GITHUB_STEP_SUMMARY.
import * as fs from 'node:fs';
import type { RunSummary } from './runner.js';
import { describeError, formatMs, type Renderer, type SummaryInfo } from './render.js';

type Out = { write(text: string): unknown };

/** Workflow-command data: %, CR and LF are escaped so a message stays one command. */
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** Property values also escape `:` and `,`. */
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
/** A line of task output must not be read as a workflow command. */
const inert = (line: string) => (line.startsWith('::') ? ` ${line}` : line);

export function createGithubRenderer(opts: { stream: Out; verbose?: boolean }): Renderer {
  const out = opts.stream;
  const held = new Map<string, string[]>();
  return {
    event(e) {
      switch (e.type) {
        case 'start':
          held.set(e.task, [`started: ${e.reason}`]);
          break;
        case 'check':
          held.set(e.task, ['checking the live state (--refresh)']);
          break;
        case 'line':
          (held.get(e.task) ?? held.set(e.task, []).get(e.task)!).push(inert(e.line));
          break;
        case 'end': {
          const r = e.result;
          const lines = held.get(r.name);
          held.delete(r.name);
          const time = r.durationMs ? ` (${formatMs(r.durationMs)})` : '';
          const head = `${r.status === 'failed' || r.status === 'interrupted' ? '✖' : r.status === 'ran' ? '✔' : '○'} ${r.name} ${r.status}${time}`;
          if (lines?.length) out.write(`::group::${escapeData(head)}\n${lines.join('\n')}\n::endgroup::\n`);
          else out.write(`${head}${r.status === 'ran' || r.status === 'cached' ? '' : ` (${r.reason})`}\n`);
          if (r.status === 'failed') {
            const { message, hint } = describeError(r.error, !!opts.verbose);
            out.write(`::error title=${escapeProperty(`${r.name} failed`)}::${escapeData(hint ? `${message}\nHint: ${hint}` : message)}\n`);
          }
          break;
        }
      }
    },
    note: (text) => out.write(`::notice::${escapeData(text)}\n`),
    end: async () => {},
  };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The run summary as Markdown: a heading naming the target, then one table row per task. */
export function githubStepSummary(summary: RunSummary, info: SummaryInfo): string {
  const where = [info.env, ...Object.entries(info.target).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`)].join(', ');
  const rows = summary.results.map((r) => {
    const time = r.durationMs ? formatMs(r.durationMs) : '';
    const detail = r.status === 'failed' ? describeError(r.error, false).message : r.reason;
    return `| \`${cell(r.name)}\` | ${r.status} | ${time} | ${cell(detail)} |`;
  });
  return [
    `### ${summary.failed ? '✖' : summary.interrupted ? '⚠' : '✔'} ${cell(where)}: ${formatMs(summary.wallMs)}`,
    '',
    '| Task | Status | Time | Why |',
    '| --- | --- | ---: | --- |',
    ...rows,
    ...(info.report.line ? ['', info.report.line] : []),
    '',
  ].join('\n');
}

/** Appends the summary to the step summary file GitHub names, when it does. */
export function writeStepSummary(env: NodeJS.ProcessEnv, summary: RunSummary, info: SummaryInfo): void {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_STEP_SUMMARY) fs.appendFileSync(env.GITHUB_STEP_SUMMARY, githubStepSummary(summary, info) + '\n');
}
