import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { ContentStore } from '../content/store.js';
import type { Descriptor } from '../images/schema.js';
import { invalid } from '../util/errors.js';
import { failure, type RegistryClient } from './client.js';

export interface DownloadOptions {
  /** Attempts before giving up (default 5); each retry resumes where the last one stopped. */
  retries?: number;
  onBytes?: (current: number) => void;
  onRetry?: (attempt: number, err: Error) => void;
}

const fatal = (e: Error): Error => Object.assign(e, { fatal: true });
const FLUSH_BYTES = 1024 * 1024;
const WRITEBACK_BYTES = 32 * 1024 * 1024;
/** One early writeback at a time in the process, so that they never fill the thread pool the writes need. */
let writebackBusy = false;

/**
 * A blob on its way into the content store: written to an ingest file while hashed, and handed
 * on chunk by chunk (`chunks`) to whoever consumes it as it arrives. A transfer that breaks off is
 * resumed with a Range request. The chunks end with an error when the size or digest is wrong;
 * only a verified blob can be committed, and abort leaves nothing behind.
 */
export class BlobDownload {
  private readonly hash = createHash('sha256');
  /** Bytes hashed and passed on: `queued` of them handed to writes to the ingest file, the rest in `pending`. */
  private received = 0;
  private queued = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The write in flight: one at a time, while the next MiB arrives. */
  private writing: Promise<void> = Promise.resolve();
  private syncedUpTo = 0;
  private verified = false;
  /** The download itself failed (not its consumer): nothing more to fetch. */
  private failed = false;
  private closed = false;

  private constructor(
    private readonly content: ContentStore,
    readonly desc: Descriptor,
    private readonly tmp: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(content: ContentStore, desc: Descriptor): Promise<BlobDownload> {
    const tmp = await content.newIngestPath();
    return new BlobDownload(content, desc, tmp, await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644));
  }

  /** Waits for the write in flight, then starts writing what is pending. */
  private async flush(opts: DownloadOptions): Promise<void> {
    await this.writing;
    if (this.pendingBytes === 0) return;
    const [bufs, n, at] = [this.pending, this.pendingBytes, this.queued];
    this.pending = [];
    this.pendingBytes = 0;
    this.queued += n;
    this.writing = this.fh.writev(bufs, at).then(
      ({ bytesWritten }) => {
        if (bytesWritten !== n) throw fatal(new Error(`blob ${this.desc.digest}: short write to ${this.tmp}`));
        opts.onBytes?.(at + n);
        this.writeback(at + n);
      },
      // a full disk is not worth retrying
      (e: Error) => Promise.reject(fatal(e)),
    );
    // observed by the next flush; until then a failure must not count as unhandled
    this.writing.catch(() => undefined);
  }

  /**
   * Starts writing what the file has so far to disk while the rest downloads, so that the fsync
   * before the commit finds little left to do (it alone decides durability; errors here do not matter).
   */
  private writeback(upTo: number): void {
    if (writebackBusy || this.closed || upTo - this.syncedUpTo < WRITEBACK_BYTES) return;
    writebackBusy = true;
    this.syncedUpTo = upTo;
    this.fh
      .datasync()
      .catch(() => undefined)
      .finally(() => (writebackBusy = false));
  }

  /**
   * The blob's bytes in order, each chunk hashed (and queued for the ingest file) before it is
   * yielded. A consumer that stops early can call it again to go on from where it stopped.
   */
  async *chunks(client: RegistryClient, repository: string, opts: DownloadOptions = {}): AsyncGenerator<Buffer> {
    try {
      yield* this.fetch(client, repository, opts);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private async *fetch(client: RegistryClient, repository: string, opts: DownloadOptions): AsyncGenerator<Buffer> {
    const { digest, size } = this.desc;
    const attempts = opts.retries ?? 5;
    if (this.verified || this.failed) throw new Error(`blob ${digest}: the download has ended`);
    for (let attempt = 1; this.received < size; attempt++) {
      const received = this.received;
      try {
        const res = await client.request(`/v2/${repository}/blobs/${digest}`, { headers: received > 0 ? { range: `bytes=${received}-` } : {} });
        if (res.status !== 200 && res.status !== 206) {
          const err = await failure(res, `blob ${digest}`);
          throw res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429 ? fatal(err) : err;
        }
        // What was passed on cannot be taken back: a registry that ignores the Range sends
        // everything again, and the part already received is dropped from it (the digest covers
        // the bytes passed on, so a registry sending other bytes this time fails the check).
        let skip = res.status === 200 ? received : 0;
        const range = res.headers['content-range'];
        if (res.status === 206 && range !== undefined && !range.startsWith(`bytes ${received}-`)) {
          res.stream.destroy();
          throw fatal(invalid(`blob ${digest}: asked for bytes from ${received}, the registry sent ${range}`));
        }
        for await (const raw of res.stream as AsyncIterable<Buffer>) {
          let chunk = raw;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (this.received + chunk.length > size) throw fatal(invalid(`blob ${digest}: more than the ${size} bytes the manifest lists`));
          this.hash.update(chunk);
          this.received += chunk.length;
          this.pending.push(chunk);
          this.pendingBytes += chunk.length;
          if (this.pendingBytes >= FLUSH_BYTES) await this.flush(opts);
          yield chunk;
        }
        if (this.received < size) throw new Error(`blob ${digest}: transfer ended after ${this.received} of ${size} bytes`);
        break;
      } catch (e) {
        const err = e as Error & { fatal?: boolean };
        if (err.fatal || attempt >= attempts) throw e;
        opts.onRetry?.(attempt, err);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    await this.flush(opts);
    await this.writing;
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== digest) throw invalid(`blob ${digest}: downloaded content has digest ${actual}`);
    this.verified = true;
  }

  /**
   * After the consumer of `chunks` failed: fetches the rest, so that a download that was corrupt
   * (which often shows first as a broken tar) fails with its digest error instead.
   */
  async readToEnd(client: RegistryClient, repository: string, opts: DownloadOptions = {}): Promise<void> {
    if (this.verified || this.failed) return;
    for await (const _ of this.chunks(client, repository, opts));
  }

  /** Moves the verified blob into the content store (fsynced first). */
  async commit(): Promise<void> {
    if (!this.verified) throw new Error(`blob ${this.desc.digest}: not read to its verified end`);
    await this.fh.sync();
    await this.close();
    await this.content.commitIngested(this.tmp, this.desc.digest);
  }

  async abort(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
