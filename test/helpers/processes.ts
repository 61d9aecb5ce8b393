// Finding the processes a run left behind: every process the CLI starts (gcloud, servers) inherits an
// environment naming the run's folder (GCP_TASKS_SANDBOX_DIR, CLOUDSDK_CONFIG), whatever its process group.
import * as fs from 'node:fs';

/** Live processes (other than this one) whose environment contains `text`. */
export function processesWithEnv(text: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue; // a zombie is already dead
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(text)) out.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return out;
}
