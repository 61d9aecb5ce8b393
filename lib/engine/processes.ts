// Processes the tool starts and watches.
// Every command the tool starts (a task's `ctx.$` commands, every gcloud call) runs in its own process group,
// so an abort (Ctrl-C, a call's timeout) kills the whole tree: zx's own abort only signals the shell it
// spawned, and a grandchild (gcloud's Python, `sleep`, `docker`) would survive. The CLI kills the groups
// still alive when its run ends, and when the process exits early (a second Ctrl-C).
import { spawn, type ChildProcess } from 'node:child_process';

const liveGroups = new Set<number>();
const groupWatchers = new Set<(groups: readonly number[]) => void>();
const groupsChanged = () => groupWatchers.forEach((watch) => watch([...liveGroups]));

/** Calls `watch` with the live process groups whenever one starts or ends (the lock names them). */
export function watchGroups(watch: (groups: readonly number[]) => void): () => void {
  groupWatchers.add(watch);
  return () => groupWatchers.delete(watch);
}
export const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
};

/** Kills every process group still running (a command a task left behind, or one a stuck task awaits). */
export function killRunningGroups(signal: NodeJS.Signals = 'SIGKILL'): void {
  liveGroups.forEach((pid) => killGroup(pid, signal));
}

/** Until the returned function is called, exiting the process (process.exit included) kills the running groups. */
export function killGroupsOnExit(): () => void {
  const onExit = () => killRunningGroups('SIGKILL');
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}

export function groupSpawner(signal: AbortSignal): typeof spawn {
  const mine = new Set<number>();
  signal.addEventListener('abort', () => mine.forEach((pid) => killGroup(pid, 'SIGTERM')), { once: true });
  return ((command: string, args: readonly string[], options: object) => {
    const child: ChildProcess = spawn(command, args, { ...options, detached: true });
    const pid = child.pid;
    if (pid) {
      mine.add(pid);
      liveGroups.add(pid);
      groupsChanged();
      child.once('exit', () => {
        mine.delete(pid);
        liveGroups.delete(pid);
        groupsChanged();
      });
    }
    return child;
  }) as typeof spawn;
}

/** Whether a process exists (EPERM: it does, but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
