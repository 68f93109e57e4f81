import { open } from 'node:fs/promises';

/** What ADD does with a local file: unpack a tar (plain or gzip), else copy it as is. */
export async function archiveKind(path: string): Promise<'tar' | 'gzip' | undefined> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead < 512) return undefined;
    if (b.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    // old (v7) tar: a valid header checksum
    const stored = parseInt(b.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    if (!Number.isFinite(stored)) return undefined;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (b[i] as number);
    return sum === stored ? 'tar' : undefined;
  } finally {
    await fh.close();
  }
}
