/**
 * Signals to a container's init process. `runc kill` is a Go process (25-35 ms here, more under load);
 * the berth-syscalls addon reaches the same process through a pidfd once it has checked that the pid
 * is the child of the container's conmon (native/syscalls/signal.c), so a reused pid is never signalled.
 */
import { constants } from 'node:os';
import { syscalls } from '../util/syscalls.js';
import type { ContainerState } from './record.js';
import type { Runc } from './runc.js';

/** A signal as `runc kill` takes it (KILL, SIGKILL, kill, 9) as its number; undefined for what only runc names (RTMIN+3...). */
export function signalNumber(signal: string): number | undefined {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = signal.toUpperCase().replace(/^SIG/, '');
  const n = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
  return typeof n === 'number' ? n : undefined;
}

/**
 * Sends `signal` to the container's init process; false when it had already ended. Directly through a
 * pidfd where the addon can, else `runc kill`. Berth gives every container a pid namespace of its own,
 * so SIGKILL to its init ends every process in it: what `runc kill --all` does. Any other signal `all`
 * is meant for goes through runc.
 */
export async function signalContainer(runc: Runc, id: string, s: ContainerState, signal: string, all = false): Promise<boolean> {
  const n = signalNumber(signal);
  const signalChild = syscalls()?.signalChild;
  if (signalChild && n !== undefined && s.pid > 0 && s.conmonPid > 0 && (!all || n === constants.signals.SIGKILL)) {
    let r: 'sent' | 'gone' | 'other' | undefined;
    try {
      r = signalChild(s.pid, s.conmonPid, n);
    } catch {
      r = undefined; // an errno the pidfd calls gave: runc decides
    }
    if (r === 'sent') return true;
    if (r === 'gone') return false;
    // "other": the recorded pid is not this container's process (a stale state file): runc knows its own
  }
  await runc.kill(id, signal, all);
  return true;
}
