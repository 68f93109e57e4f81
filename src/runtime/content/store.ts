import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertDigest, digestHex, randomHexId } from '../util/digest.js';
import { invalid, isNodeError, notFound } from '../util/errors.js';
import { readDirOrEmpty, syncDir } from '../util/fs.js';
import type { LeaseManager } from '../gc/leases.js';

export interface GcResult {
  removed: string[];
  bytes: number;
}

/** Temp files of an ingest are written to as it goes: one untouched this long belongs to an ingest that died. */
const STALE_INGEST_MS = 3_600_000;

/**
 * Content-addressed blobs in OCI image layout (<root>/content/blobs/sha256/<hex>); immutable once written.
 * With a lease manager (a runtime's store), a blob written or found by work in a lease is held by it.
 */
export class ContentStore {
  readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(
    root: string,
    readonly leases?: LeaseManager,
  ) {
    this.blobsDir = join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = join(root, 'content', 'ingest');
  }

  /** Runs `fn` with the blob held by the running lease (see leases.ts). */
  private held<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    return this.leases ? this.leases.hold('blob', digest, fn) : fn();
  }

  path(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  /** Whether the blob is stored; inside a lease, the lease now holds it. */
  async has(digest: string): Promise<boolean> {
    return this.held(digest, async () => {
      try {
        await stat(this.path(digest));
        return true;
      } catch (e) {
        if (isNodeError(e, 'ENOENT')) return false;
        throw e;
      }
    });
  }

  async size(digest: string): Promise<number> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) throw notFound(`blob ${digest} not found`);
      throw e;
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) throw notFound(`blob ${digest} not found`);
      throw e;
    }
  }

  async readJson(digest: string): Promise<unknown> {
    return JSON.parse((await this.read(digest)).toString('utf8')) as unknown;
  }

  putBuffer(data: Uint8Array, expected?: string): Promise<string> {
    return this.ingest(
      (async function* () {
        yield data;
      })(),
      expected,
    );
  }

  ingestFile(path: string, expected?: string): Promise<string> {
    return this.ingest(createReadStream(path), expected);
  }

  /** Streams data into a temp file while hashing, verifies the digest, fsyncs, then renames into place. */
  async ingest(source: Readable | AsyncIterable<Uint8Array>, expected?: string): Promise<string> {
    if (expected !== undefined) assertDigest(expected, 'expected digest');
    await mkdir(this.ingestDir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    const tmp = join(this.ingestDir, randomHexId());
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    const hash = createHash('sha256');
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    const digest = `sha256:${hash.digest('hex')}`;
    if (expected !== undefined && expected !== digest) {
      await rm(tmp, { force: true });
      throw invalid(`content digest mismatch: expected ${expected}, got ${digest}`);
    }
    await this.held(digest, () => rename(tmp, this.path(digest)));
    await syncDir(this.blobsDir);
    return digest;
  }

  /** A fresh temp path in the ingest directory (same filesystem as the blobs) for a caller that writes and hashes itself. */
  async newIngestPath(): Promise<string> {
    await mkdir(this.ingestDir, { recursive: true });
    return join(this.ingestDir, randomHexId());
  }

  /** Moves a written, fsynced ingest file into place; the caller has verified that its content hashes to `digest`. */
  async commitIngested(tmp: string, digest: string): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await this.held(digest, () => rename(tmp, this.path(digest)));
    await syncDir(this.blobsDir);
  }

  async list(): Promise<string[]> {
    return (await readDirOrEmpty(this.blobsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Removes every blob not in `referenced` (and stale ingest temp files). */
  async gc(referenced: ReadonlySet<string>): Promise<GcResult> {
    const removed: string[] = [];
    let bytes = 0;
    for (const d of await this.list()) {
      if (referenced.has(d)) continue;
      bytes += await this.size(d).catch(() => 0);
      await this.delete(d);
      removed.push(d);
    }
    await this.removeStaleIngests();
    return { removed, bytes };
  }

  /** Temp files left by a crash mid-ingest; recent ones may belong to an ingest in progress. */
  async removeStaleIngests(): Promise<void> {
    for (const name of await readDirOrEmpty(this.ingestDir)) {
      const p = join(this.ingestDir, name);
      const st = await stat(p).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_INGEST_MS) await rm(p, { force: true });
    }
  }
}
