import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { failed } from '../util/errors.js';

/** Whether a process is gone or a zombie (runc init's parent, conmon, reaps it only later). */
function processEnded(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Lets a created runc container run: reads runc init's start byte from its exec fifo, then removes the fifo. */
export async function releaseExecFifo(fifo: string, initPid: number): Promise<void> {
  // opening a fifo for reading blocks (in libuv's thread pool) until a writer opens it; runc init
  // normally already waits on its side, but if it died we become the writer to unblock our own open
  const watchdog = setInterval(() => {
    if (!processEnded(initPid)) return;
    clearInterval(watchdog);
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting (our open already returned) or the fifo is gone: nothing to unblock
    }
  }, 100);
  let started = false;
  try {
    const fh = await open(fifo, constants.O_RDONLY);
    try {
      // like `runc start`, read to EOF: init's end closes on exec, so the process is then the container's own
      const buf = Buffer.alloc(16);
      for (let n = 1; n > 0; ) {
        n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
        if (n > 0) started = true;
      }
    } finally {
      await fh.close();
    }
  } finally {
    clearInterval(watchdog);
  }
  if (!started) throw failed('the container process exited before it could start');
  await rm(fifo, { force: true });
}
