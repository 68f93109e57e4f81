/**
 * Joins an attach (or exec) stream to this process's stdio as the docker CLI does: output to stdout
 * and stderr (one stream with a tty), stdin forwarded with -i (its end closes the container's stdin),
 * a raw local terminal with -t, its size sent at the start and on every SIGWINCH, Ctrl-P Ctrl-Q to
 * detach (the container goes on), and without a tty Ctrl-C sent to the container as SIGINT.
 */
import type { RemoteCommand } from '../../client/docker/remote-command.js';

export interface TerminalOptions {
  stdin: boolean;
  tty: boolean;
  /** Forwards a signal to the container (docker's sig-proxy), for Ctrl-C without a tty. */
  signal?: (sig: string) => Promise<void>;
}

export interface TerminalResult {
  /** Ctrl-P Ctrl-Q was typed: the container goes on. */
  detached: boolean;
}

const CTRL_P = 0x10;
const CTRL_Q = 0x11;

export function joinTerminal(rc: RemoteCommand, o: TerminalOptions): Promise<TerminalResult> {
  const cleanups: (() => void)[] = [];
  let detached = false;
  rc.onStdout((d) => process.stdout.write(d));
  rc.onStderr((d) => process.stderr.write(d));
  const raw = o.tty && o.stdin && process.stdin.isTTY === true;
  if (raw) {
    process.stdin.setRawMode(true);
    cleanups.push(() => process.stdin.setRawMode(false));
  }
  if (o.tty && process.stdout.isTTY) {
    const resize = () => rc.resize(process.stdout.columns, process.stdout.rows);
    resize();
    process.stdout.on('resize', resize);
    cleanups.push(() => process.stdout.off('resize', resize));
  }
  if (o.stdin) {
    let sawCtrlP = false;
    const onData = (d: Buffer) => {
      if (raw) {
        // docker's default detach keys: ctrl-p,ctrl-q (a lone ctrl-p is passed on with what follows)
        for (let i = 0; i < d.length; i++) {
          if (sawCtrlP && d[i] === CTRL_Q) {
            detached = true;
            rc.close();
            return;
          }
          sawCtrlP = d[i] === CTRL_P;
        }
      }
      rc.stdin(d);
    };
    const onEnd = () => rc.closeStdin();
    process.stdin.on('data', onData).once('end', onEnd);
    cleanups.push(() => {
      process.stdin.off('data', onData).off('end', onEnd);
      process.stdin.pause();
      process.stdin.destroy();
    });
  }
  if (!o.tty && o.signal) {
    const onInt = () => void o.signal!('SIGINT').catch(() => undefined);
    const onTerm = () => void o.signal!('SIGTERM').catch(() => undefined);
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    cleanups.push(() => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    });
  }
  const end = () => {
    for (const c of cleanups.reverse()) c();
  };
  return rc.done.then(
    () => {
      end();
      return { detached };
    },
    (e: unknown) => {
      end();
      if (detached) return { detached };
      throw e;
    },
  );
}
