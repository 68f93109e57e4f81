import { describe, expect, it } from 'vitest';
import { decodeContinue, encodeContinue } from '../../../src/store/paging.js';
import { InvalidContinueError } from '../../../src/store/types.js';

describe('continue tokens', () => {
  it('round-trip the revision and start key as URL-safe text', () => {
    const token = encodeContinue({ rv: 42, start: { namespace: 'prod', name: 'web-1' } });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeContinue(token)).toEqual({ rv: 42, start: { namespace: 'prod', name: 'web-1' } });
  });

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  it.each([
    ['', 'not base64url'],
    ['a+b/c=', 'not base64url'],
    [Buffer.from('not json').toString('base64url'), 'not a token issued by this server'],
    [b64(7), 'not a token issued by this server'],
    [b64({ v: 2, rv: 1, ns: '', name: 'a' }), 'unknown token version'],
    [b64({ v: 1, rv: -1, ns: '', name: 'a' }), 'bad revision'],
    [b64({ v: 1, rv: 1.5, ns: '', name: 'a' }), 'bad revision'],
    [b64({ v: 1, rv: 1, ns: 3, name: 'a' }), 'bad start key'],
    [b64({ v: 1, rv: 1, ns: '' }), 'bad start key'],
  ])('rejects %j (%s)', (token, why) => {
    expect(() => decodeContinue(token)).toThrow(InvalidContinueError);
    expect(() => decodeContinue(token)).toThrow(why);
  });
});
