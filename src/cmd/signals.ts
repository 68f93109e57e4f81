/** How a role process (server, apiserver, controller, agent) stops on a signal. */
import { errorText, logger } from '../util/log.js';

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
