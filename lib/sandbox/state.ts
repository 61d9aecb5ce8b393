// The sandbox's state on disk: one JSON file written atomically (tmp + rename, debounced) and a blob folder.
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { SandboxState } from './types.js';

export const STATE_FILE = 'state.json';
export const BLOB_DIR = 'blobs';

export function emptyState(): SandboxState {
  return { projects: {}, seq: 0 };
}

export class StateStore {
  state: SandboxState;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;

  constructor(readonly stateDir: string, private readonly debounceMs = 25) {
    fs.mkdirSync(path.join(stateDir, BLOB_DIR), { recursive: true });
    this.file = path.join(stateDir, STATE_FILE);
    this.state = this.load();
  }

  private load(): SandboxState {
    if (!fs.existsSync(this.file)) return emptyState();
    const text = fs.readFileSync(this.file, 'utf8');
    try {
      const parsed = JSON.parse(text) as SandboxState;
      if (typeof parsed !== 'object' || !parsed || typeof parsed.projects !== 'object') throw new Error('not a sandbox state');
      return parsed;
    } catch (err) {
      throw new Error(`The sandbox state file ${this.file} is not valid (${(err as Error).message}); delete it or start with --reset.`);
    }
  }

  /** Schedules an atomic write (many mutations in a burst make one write). */
  save(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.debounceMs);
  }

  /** Writes now (at stop, and after a reset). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    writeFileAtomic.sync(this.file, JSON.stringify(this.state));
  }

  /** Forgets every resource and every blob. */
  reset(): void {
    this.state = emptyState();
    fs.rmSync(path.join(this.stateDir, BLOB_DIR), { recursive: true, force: true });
    fs.mkdirSync(path.join(this.stateDir, BLOB_DIR), { recursive: true });
    this.flush();
  }

  blobPath(...parts: string[]): string {
    return path.join(this.stateDir, BLOB_DIR, ...parts);
  }
}
