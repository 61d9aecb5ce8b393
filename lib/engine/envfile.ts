// Writes KEY=value lines into an env file the way a person would edit it: only the matching entry changes,
// comments and order stay, new keys are appended, the file is created when missing, and the write is atomic
// (temp file + fsync + rename) so a crash never leaves it truncated or half-written. The file is read the
// way dotenv reads it: a line inside another key's multi-line quoted value is never taken for a key, and
// of a key defined twice the last one (the one dotenv uses) is updated.
import { promises as fs } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { scanEnvLines } from './env.js';
import type { EnvFile } from './types.js';

const chains = new Map<string, Promise<void>>();

export function createEnvFile(filePath: string): EnvFile {
  return {
    path: filePath,
    set(entries) {
      // Parallel deploy tasks update the same file: serialise the read-modify-write per path.
      const previous = chains.get(filePath) ?? Promise.resolve();
      const next = previous.catch(() => undefined).then(() => update(filePath, entries));
      chains.set(filePath, next);
      return next;
    },
  };
}

async function update(filePath: string, entries: Record<string, string>): Promise<void> {
  let text = '';
  try {
    text = await fs.readFile(filePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  for (const [key, value] of Object.entries(entries)) {
    const line = `${key}=${quote(value)}`;
    const at = scanEnvLines(lines).entries.filter((e) => e.key === key).pop();
    if (!at) lines.push(line);
    else lines.splice(at.first, at.last - at.first + 1, (/^\s*export\s+/.test(lines[at.first]) ? 'export ' : '') + line);
  }
  await writeFileAtomic(filePath, lines.join(eol) + eol); // keeps the file's mode
}

/** Quotes a value only when dotenv would otherwise change it, with a quote style dotenv reads back verbatim. */
function quote(value: string): string {
  if (/^[^\s#'"`\\]*$/.test(value)) return value;
  for (const q of ["'", '"', '`']) if (!value.includes(q) && !value.includes('\n')) return q + value + q;
  throw new Error('a value with newlines and every kind of quote cannot be written to an env file');
}
