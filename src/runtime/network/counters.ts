/** Network counters of a container, as cAdvisor reads them: /proc/PID/net/dev of a process inside its namespace. */
import { readFile } from 'node:fs/promises';

export interface InterfaceCounters {
  interface: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

/** Bytes and packets per interface of a running container's namespace (from /proc/PID/net/dev), loopback left out. */
export async function interfaceCounters(pid: number): Promise<InterfaceCounters[]> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8');
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out.push({ interface: m[1]!, rxBytes: f[0] ?? 0, rxPackets: f[1] ?? 0, txBytes: f[8] ?? 0, txPackets: f[9] ?? 0 });
  }
  return out;
}
