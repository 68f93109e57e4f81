import { describe, expect, it } from 'vitest';
import { criLogRecords } from '../../../src/client/cri-log.js';

async function all(chunks: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of criLogRecords((async function* () {
    yield* chunks;
  })())) out.push(r);
  return out;
}

describe('criLogRecords', () => {
  it('splits records across chunk boundaries and keeps each line with its stream', async () => {
    expect(await all(['2026-12-06T10:00:00.1Z stdout F a b', 'c\n2026-12-06T10:00:00.2Z std', 'err F oops\n2026-12-06T10:00:00.3Z stdout F \n'])).toEqual([
      { time: '2026-12-06T10:00:00.1Z', stream: 'stdout', text: 'a bc' },
      { time: '2026-12-06T10:00:00.2Z', stream: 'stderr', text: 'oops' },
      { time: '2026-12-06T10:00:00.3Z', stream: 'stdout', text: '' },
    ]);
  });

  it('passes on a line that is no record as stdout, and a last line without newline', async () => {
    expect(await all(['not a record\n', '2026-12-06T10:00:00.1Z stderr F tail'])).toEqual([
      { time: '', stream: 'stdout', text: 'not a record' },
      { time: '2026-12-06T10:00:00.1Z', stream: 'stderr', text: 'tail' },
    ]);
  });
});
