/** Reading a node's progress stream: lines split across chunks, and a bound on each line. */
import { describe, expect, it } from 'vitest';
import { boundedLines, NodeApiError } from '../../../src/client/node-api.js';

async function collect(chunks: string[], max: number): Promise<string[]> {
  const out: string[] = [];
  for await (const l of boundedLines(chunks.map((c) => Buffer.from(c)), max, 'node n')) out.push(l);
  return out;
}

describe('boundedLines', () => {
  it('yields whole lines whatever the chunking, with CRLF and a last line without a newline', async () => {
    expect(await collect(['{"a":', '1}\n{"b"', ':2}\r\n\n', '{"c":3}'], 100)).toEqual(['{"a":1}', '{"b":2}', '', '{"c":3}']);
    expect(await collect(['é', '\n'], 100)).toEqual(['é']);
  });

  it('refuses a line longer than the bound before holding more of it', async () => {
    await expect(collect(['x'.repeat(60), 'x'.repeat(60)], 100)).rejects.toThrow(new NodeApiError('node n: a progress line longer than 100 bytes'));
  });
});
