/**
 * docker build through the socket: Berth's builder does not pull, so the context tar is spooled to a
 * temporary file, its Dockerfile read (the entry named by `dockerfile`, as the docker CLI puts it in
 * the tar), and the base images it names that the node lacks are pulled first, as dockerd's legacy
 * builder does (`pull=1`: every one, again). Then the spooled context goes to the node's /build.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { HttpError } from './http.js';

/** The node refuses contexts above this too; here it bounds the spool file. */
export const MAX_CONTEXT_BYTES = 16 * 1024 ** 3;
const MAX_DOCKERFILE = 1 << 20;

export interface SpooledContext {
  path: string;
  dockerfile: string | undefined;
  cleanup(): Promise<void>;
}

const cstr = (b: Buffer): string => {
  const z = b.indexOf(0);
  return (z < 0 ? b : b.subarray(0, z)).toString('utf8');
};
const octal = (b: Buffer): number => parseInt(cstr(b).trim() || '0', 8);
const normal = (n: string): string => n.replace(/^(\.\/)+/, '').replace(/^\/+/, '');

/** Finds the entry named `want` in a tar file (ustar, GNU long names, PAX paths) and reads it (bounded). */
export async function readTarEntry(file: string, want: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let offset = 0;
    let longName: string | undefined;
    const header = Buffer.alloc(512);
    while (offset + 512 <= size) {
      await fh.read(header, 0, 512, offset);
      if (header.every((b) => b === 0)) return undefined;
      const type = String.fromCharCode(header[156] ?? 48);
      const len = octal(header.subarray(124, 136));
      const prefix = cstr(header.subarray(345, 500));
      const base = cstr(header.subarray(0, 100));
      const name = longName ?? (prefix ? `${prefix}/${base}` : base);
      longName = undefined;
      const body = offset + 512;
      if (type === 'L' || type === 'x') {
        const data = Buffer.alloc(Math.min(len, 64 * 1024));
        await fh.read(data, 0, data.length, body);
        if (type === 'L') longName = cstr(data);
        else longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1];
      } else if ((type === '0' || type === '\0') && normal(name) === normal(want)) {
        if (len > MAX_DOCKERFILE) throw new HttpError(400, `dockerfile: ${want} is larger than ${MAX_DOCKERFILE} bytes`);
        const data = Buffer.alloc(len);
        await fh.read(data, 0, len, body);
        return data.toString('utf8');
      }
      offset = body + Math.ceil(len / 512) * 512;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Writes the request body to a temporary file (bounded) and reads the Dockerfile out of it. */
export async function spoolContext(req: IncomingMessage, dockerfileName: string): Promise<SpooledContext> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-docker-build-'));
  const path = join(dir, 'context.tar');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    let n = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (n > MAX_CONTEXT_BYTES) return cb(new HttpError(413, `the build context is larger than ${MAX_CONTEXT_BYTES} bytes`));
        cb(null, chunk);
      },
    });
    await pipeline(req, limit, createWriteStream(path, { mode: 0o600 }));
    const magic = Buffer.alloc(2);
    const fh = await open(path, 'r');
    await fh.read(magic, 0, 2, 0);
    await fh.close();
    // a compressed context (docker build --compress) is passed on as it is; its base images are not looked at
    const dockerfile = magic[0] === 0x1f && magic[1] === 0x8b ? undefined : await readTarEntry(path, dockerfileName);
    return { path, dockerfile, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export const contextStream = (c: SpooledContext) => createReadStream(c.path);
