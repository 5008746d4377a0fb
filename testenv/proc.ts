/** What testenv asks of /proc about the processes it started (control plane and real node alike). */
import { readFileSync } from 'node:fs';

/** pid runs and is no zombie (a zombie reparented to PID 1 lingers until it is reaped: it is gone for us). */
export function procAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** pid is alive and its command line names dir, one of this run's state dirs (guards against pid reuse). */
export function procOurs(pid: number, dir: string): boolean {
  if (!procAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}
