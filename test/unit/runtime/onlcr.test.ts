import { describe, expect, it } from 'vitest';
import { onlcr } from '../../../src/runtime/containers/exec-stream.js';

const run = (chunks: string[]): string => {
  const f = onlcr();
  return chunks.map((c) => f(Buffer.from(c, 'latin1')).toString('latin1')).join('');
};

describe('onlcr of a terminal exec stream', () => {
  it('gives each newline one CR, whether or not the container terminal already gave it one', () => {
    // before runc cleared the container's onlcr the process's newlines arrive as \r\n, after it as \n
    expect(run(['/dev/pts/0\r\n', 'err\n'])).toBe('/dev/pts/0\r\nerr\r\n');
    expect(run(['a\nb\n\n'])).toBe('a\r\nb\r\n\r\n');
    expect(run(['a\r\nb\r\n'])).toBe('a\r\nb\r\n');
    expect(run(['\n'])).toBe('\r\n');
  });

  it('looks across chunk boundaries', () => {
    expect(run(['a\r', '\nb', '\n'])).toBe('a\r\nb\r\n');
    expect(run(['a', '\n', '\r', '\n'])).toBe('a\r\n\r\n');
  });

  it('leaves other bytes alone, a lone CR and escape sequences included', () => {
    const bytes = Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x0d, 0x00, 0xff, 0x41]).toString('latin1');
    expect(run([bytes])).toBe(bytes);
  });
});
