import { readFile } from 'node:fs/promises';

export interface TopProcess {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
  cpuSeconds: number;
  command: string;
}

/** Reads /proc for the given host pids (docker top's view of a container). */
export async function describeProcesses(pids: readonly number[]): Promise<TopProcess[]> {
  const ticks = 100;
  const out: TopProcess[] = [];
  for (const pid of pids) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
      const field = (k: string): string => status.split('\n').find((l) => l.startsWith(`${k}:`))?.split(/\s+/)[1] ?? '';
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({
        pid,
        ppid: Number(field('PPid')),
        uid: Number(field('Uid')),
        state: field('State'),
        cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticks,
        command: cmdline || `[${field('Name')}]`,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}
