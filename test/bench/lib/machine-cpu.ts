import { readFileSync } from 'node:fs';

/**
 * Busy CPU time of the whole machine (all cores; user, system, irq and steal, from /proc/stat) since
 * boot, in ms. The difference around a burst, divided by the cores, is the least wall time it can take.
 */
export function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
}
