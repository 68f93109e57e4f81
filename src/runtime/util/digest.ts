import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { invalid } from './errors.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function assertDigest(digest: string, field = 'digest'): string {
  if (!DIGEST_RE.test(digest)) throw invalid(`${field}: "${digest}" is not a sha256 digest (sha256:<64 hex>)`);
  return digest;
}

export const isDigest = (s: string): boolean => DIGEST_RE.test(s);
export const digestHex = (digest: string): string => assertDigest(digest).slice('sha256:'.length);
export const sha256Of = (data: string | Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

export const randomHexId = (): string => randomBytes(32).toString('hex');
