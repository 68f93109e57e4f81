/** Which process owns something on disk, and whether it still runs (a pid reused later is not the owner). */
import { readFileSync } from 'node:fs';

/** The start time of a process (/proc/PID/stat field 22), or undefined when there is no such process. */
export function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface ProcessIdentity {
  pid: number;
  start: string;
}

let self: ProcessIdentity | undefined;

export function processIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, start: processStart('self') ?? '' };
  return self;
}

/** Whether the process a marker names still runs (same pid and start time). */
export function creatorAlive(marker: unknown): boolean {
  const m = marker as Partial<ProcessIdentity> | undefined;
  if (typeof m?.pid !== 'number' || typeof m.start !== 'string') return false;
  return processStart(m.pid) === m.start;
}
