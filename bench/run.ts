// `pnpm bench [section...]`: runs the benchmark sections, prints one table, writes bench/results.json.
// Each area adds its own section to SECTIONS (a name and a function returning rows).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  /** The target, when there is one; the table prints value/target. */
  target?: number;
  lowerIsBetter?: boolean;
}

export interface BenchSection {
  name: string;
  run(): Promise<BenchRow[]>;
}

/** Sections, loaded lazily so `pnpm bench engine` does not import the others. */
const SECTIONS: { name: string; load: () => Promise<BenchSection> }[] = [
  { name: 'engine', load: async () => (await import('./engine.js')).engineBench },
  { name: 'startup', load: async () => (await import('./startup.js')).startupBench },
  { name: 'setup', load: async () => (await import('./setup.js')).setupBench },
  { name: 'deploy', load: async () => (await import('./deploy.js')).deployBench },
  { name: 'rest', load: async () => (await import('./rest.js')).restBench },
  { name: 'state', load: async () => (await import('./state.js')).stateBench },
];

const format = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

function verdict(row: BenchRow): string {
  if (row.target === undefined) return '';
  const ok = row.lowerIsBetter === false ? row.value >= row.target : row.value <= row.target;
  const ratio = row.target === 0 ? '' : `${format(row.value / row.target)} of `;
  return `${ratio}target ${format(row.target)} ${row.unit} ${ok ? '✔' : row.lowerIsBetter === false ? '✖ (under target)' : '✖ (over target)'}`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
  if (unknown.length) throw new Error(`Unknown bench section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`);
  const results: Record<string, BenchRow[]> = {};
  for (const entry of SECTIONS.filter((s) => !wanted.length || wanted.includes(s.name))) {
    const section = await entry.load();
    process.stderr.write(`running ${section.name}…\n`);
    results[section.name] = await section.run();
  }
  const table = Object.entries(results).flatMap(([section, rows]) => rows.map((r) => [section, r.metric, `${format(r.value)} ${r.unit}`, verdict(r)]));
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  '));
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json');
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() };
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, sections: results }, null, 2) + '\n');
  console.log(`\nwritten to ${path.relative(process.cwd(), file)} (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
}

await main();
