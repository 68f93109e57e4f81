/** The agents' endpoint token, shared through a file between `berth apiserver` and `berth agent`. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { errorText, logger } from '../util/log.js';

/** Reads the token in `path`, or writes a new random one there (mode 0600). */
export async function loadOrCreateToken(path: string): Promise<string> {
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (t) return t;
  } catch {
    // created below
  }
  const token = randomBytes(32).toString('hex');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return token;
}

/** Stops the process cleanly on SIGINT/SIGTERM: `stop` runs once, then the process exits. */
export function onSignals(role: string, stop: () => Promise<unknown>, note = ''): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger(role).info({ signal }, `${signal}, shutting down${note}`);
    void stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger(role).error({ err: errorText(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}
