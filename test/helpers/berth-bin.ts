/** How tests run the berth CLI: the built dist/ (npm test builds first), as a user would. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cmd/main.js');

/** [command, ...leading args] to spawn `berth ARGS`. */
export function berthArgv(args: string[]): [string, string[]] {
  if (!existsSync(MAIN)) throw new Error('dist/cmd/main.js is missing: run `npm run build` (npm test does it first)');
  return [process.execPath, [MAIN, ...args]];
}
