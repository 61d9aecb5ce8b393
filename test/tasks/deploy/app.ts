// The sample app as a test subject: a private copy in a temp folder (tests change it), the broken
// Dockerfile fixtures, and small edits that tests make to it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

export const sampleApp = path.join(repoRoot, 'sample-app');
export const dockerfileFixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'dockerfiles', `${name}.Dockerfile`);

export interface AppCopy {
  root: string;
  file(rel: string): string;
  read(rel: string): string;
  write(rel: string, text: string): void;
  append(rel: string, text: string): void;
  remove(rel: string): void;
  cleanup(): void;
}

export function copySampleApp(): AppCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-app-'));
  const root = path.join(dir, 'app');
  fs.cpSync(sampleApp, root, { recursive: true });
  const file = (rel: string) => path.join(root, rel);
  return {
    root,
    file,
    read: (rel) => fs.readFileSync(file(rel), 'utf8'),
    write: (rel, text) => fs.writeFileSync(file(rel), text),
    append: (rel, text) => fs.appendFileSync(file(rel), text),
    remove: (rel) => fs.rmSync(file(rel), { force: true }),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
