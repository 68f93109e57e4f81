import { InvalidContinueError } from './types.js';
import type { StartKey } from './engine.js';

/**
 * Continue tokens: base64url of {v, rv, ns, name}, where (ns, name) is the last key already
 * returned and rv the revision of the first page. Later pages read the objects as they are now
 * (not as of rv) and report rv as their resourceVersion; a watch from rv therefore replays every
 * change made while paging, so nothing is missed (an object may be seen twice, which informers
 * tolerate).
 */
export interface ContinueToken {
  rv: number;
  start: StartKey;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

export function encodeContinue(token: ContinueToken): string {
  const body = { v: 1, rv: token.rv, ns: token.start.namespace, name: token.start.name };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  const bad = (why: string): never => {
    throw new InvalidContinueError(`invalid continue token: ${why}`);
  };
  if (!TOKEN.test(token)) bad('not base64url text');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return bad('not a token issued by this server');
  }
  if (typeof body !== 'object' || body === null) return bad('not a token issued by this server');
  const { v, rv, ns, name } = body as Record<string, unknown>;
  if (v !== 1) bad('unknown token version');
  if (typeof rv !== 'number' || !Number.isSafeInteger(rv) || rv < 0) bad('bad revision');
  if (typeof ns !== 'string' || typeof name !== 'string') bad('bad start key');
  return { rv: rv as number, start: { namespace: ns as string, name: name as string } };
}
