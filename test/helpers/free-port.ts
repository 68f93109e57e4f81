import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** `n` consecutive TCP ports nothing listens on right now (for a published port range); the first of them. */
export async function freePortRange(n: number): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const first = await freePort();
    if (first + n - 1 > 65535) continue;
    let ok = true;
    for (let p = first + 1; ok && p < first + n; p++) ok = await portFree(p);
    if (ok) return first;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}
