import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { atomicWriteFile, atomicWriteJson, ContentStore, Mutex, pathExists, readDirOrEmpty, readJsonIfExists, syncDir } from '../runtime/index.js';
import { regError } from './errors.js';
import { isDigest, validateDigest, validateName } from './names.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';

export type { GcOptions, GcReport } from './gc.js';

export interface UploadState {
  uuid: string;
  name: string;
  size: number;
  startedAt: string;
}

interface LiveHash {
  hash: Hash;
  offset: number;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Defaults: an upload untouched for an hour is abandoned; one blob may have at most 10 GiB. */
export const DEFAULT_UPLOAD_MAX_AGE_MS = 3_600_000;
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 ** 3;

export interface StorageLimits {
  /** An upload session untouched for longer than this is gone (refused, then swept). */
  uploadMaxAgeMs?: number;
  /** Largest upload (one blob); more is refused with 413 and the upload removed. */
  maxUploadBytes?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Registry storage under <data-dir>/registry: one blob store shared by every repository
 * (content/blobs/sha256, the OCI layout the runtime uses), and per repository the links
 * that make a blob, manifest revision or tag visible in it, plus upload sessions.
 */
export class RegistryStorage {
  readonly root: string;
  readonly blobs: ContentStore;
  private readonly reposDir: string;
  /** Serialises what must not interleave with garbage collection: manifest puts, blob commits and mounts, deletes. */
  readonly lock = new Mutex();
  private readonly uploadLocks = new Map<string, Mutex>();
  private readonly hashes = new Map<string, LiveHash>();

  readonly uploadMaxAgeMs: number;
  readonly maxUploadBytes: number;

  constructor(root: string, limits: StorageLimits = {}) {
    this.root = root;
    this.uploadMaxAgeMs = limits.uploadMaxAgeMs ?? DEFAULT_UPLOAD_MAX_AGE_MS;
    this.maxUploadBytes = limits.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    this.blobs = new ContentStore(root);
    this.reposDir = join(root, 'repositories');
  }

  /** @internal (gc.ts) */
  repoDir(name: string): string {
    return join(this.reposDir, ...validateName(name).split('/'));
  }
  private layerLink(name: string, digest: string): string {
    return join(this.repoDir(name), '_layers', validateDigest(digest).slice(7));
  }
  /** @internal (gc.ts) */
  revisionLink(name: string, digest: string): string {
    return join(this.repoDir(name), '_manifests', 'revisions', validateDigest(digest).slice(7));
  }
  private tagsDir(name: string): string {
    return join(this.repoDir(name), '_manifests', 'tags');
  }
  private uploadDir(name: string, uuid: string): string {
    if (!UUID_RE.test(uuid)) throw regError('BLOB_UPLOAD_UNKNOWN', `upload "${uuid}" is unknown`);
    return join(this.repoDir(name), '_uploads', uuid);
  }

  async repositoryExists(name: string): Promise<boolean> {
    return pathExists(join(this.repoDir(name), '_manifests'));
  }

  /** Repositories with manifests, sorted (what /v2/_catalog lists, as distribution does). */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      if (entries.some((e) => e.name === '_manifests' && e.isDirectory())) out.push(relative(this.reposDir, dir).split(sep).join('/'));
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name));
    };
    await walk(this.reposDir);
    return out.sort();
  }

  // ---- blobs ----

  async blobLinked(name: string, digest: string): Promise<boolean> {
    return (await pathExists(this.layerLink(name, digest))) || (await pathExists(this.revisionLink(name, digest)));
  }

  /** Size of a blob visible in the repository, or undefined. */
  async blobSize(name: string, digest: string): Promise<number | undefined> {
    if (!(await this.blobLinked(name, digest))) return undefined;
    try {
      return (await stat(this.blobs.path(digest))).size;
    } catch {
      return undefined;
    }
  }

  blobPath(digest: string): string {
    return this.blobs.path(digest);
  }

  private async link(path: string, content = ''): Promise<void> {
    await atomicWriteFile(path, content);
  }

  async unlinkBlob(name: string, digest: string): Promise<boolean> {
    return this.lock.run(async () => {
      const p = this.layerLink(name, digest);
      if (!(await pathExists(p))) return false;
      await rm(p, { force: true });
      return true;
    });
  }

  /** Cross-repository mount: links a blob of `from` into `name` without copying. */
  async mount(name: string, from: string, digest: string): Promise<boolean> {
    return this.lock.run(async () => {
      if (!(await this.blobLinked(from, digest)) || !(await this.blobs.has(digest))) return false;
      await this.link(this.layerLink(name, digest));
      return true;
    });
  }

  // ---- uploads ----

  private uploadLock(uuid: string): Mutex {
    let m = this.uploadLocks.get(uuid);
    if (!m) this.uploadLocks.set(uuid, (m = new Mutex()));
    return m;
  }

  async startUpload(name: string): Promise<UploadState> {
    validateName(name);
    const uuid = randomUUID();
    const dir = this.uploadDir(name, uuid);
    await mkdir(dir, { recursive: true });
    const fh = await open(join(dir, 'data'), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    await fh.close();
    const state: UploadState = { uuid, name, size: 0, startedAt: new Date().toISOString() };
    await atomicWriteJson(join(dir, 'startedat.json'), { startedAt: state.startedAt });
    this.hashes.set(uuid, { hash: createHash('sha256'), offset: 0 });
    return state;
  }

  async uploadState(name: string, uuid: string): Promise<UploadState> {
    const dir = this.uploadDir(name, uuid);
    const info = (await readJsonIfExists(join(dir, 'startedat.json'))) as { startedAt?: string } | undefined;
    let size: number;
    try {
      const st = await stat(join(dir, 'data'));
      // an expired upload is unknown at once, even before the sweep removes it
      if (Date.now() - st.mtimeMs > this.uploadMaxAgeMs) throw new Error('expired');
      size = st.size;
    } catch {
      throw regError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid} is unknown in repository ${name}`);
    }
    return { uuid, name, size, startedAt: info?.startedAt ?? '' };
  }

  /**
   * Appends a request body to an upload. `start` (from Content-Range) must equal the current size.
   * A body that breaks off is rolled back, so the upload stays at its previous offset.
   */
  async appendUpload(name: string, uuid: string, body: Readable, opts: { start?: number; length?: number; onBytes?: (n: number) => void } = {}): Promise<UploadState> {
    return this.uploadLock(uuid).run(async () => {
      const state = await this.uploadState(name, uuid);
      if (opts.start !== undefined && opts.start !== state.size) {
        throw regError('BLOB_UPLOAD_INVALID', `chunk starts at ${opts.start} but the upload has ${state.size} bytes`, { size: state.size }, 416);
      }
      const dataPath = join(this.uploadDir(name, uuid), 'data');
      const cap = this.maxUploadBytes;
      const tooLarge = (): Error => regError('SIZE_INVALID', `the upload exceeds this registry's limit of ${cap} bytes per blob; it was removed`, { limit: cap }, 413);
      if (opts.length !== undefined && state.size + opts.length > cap) {
        await this.dropUpload(name, uuid);
        throw tooLarge();
      }
      let live = this.hashes.get(uuid);
      if (live && live.offset !== state.size) {
        this.hashes.delete(uuid);
        live = undefined;
      }
      let written = 0;
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          written += chunk.length;
          if (state.size + written > cap) return cb(tooLarge());
          live?.hash.update(chunk);
          opts.onBytes?.(chunk.length);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(body, hashing, createWriteStream(dataPath, { flags: 'a' }));
        if (opts.length !== undefined && written !== opts.length) {
          throw regError('SIZE_INVALID', `received ${written} bytes but Content-Length was ${opts.length}`);
        }
      } catch (e) {
        this.hashes.delete(uuid);
        // over the cap: nothing of the upload is kept; else it stays at its previous offset
        if ((e as { status?: number }).status === 413) await this.dropUpload(name, uuid);
        else await truncate(dataPath, state.size).catch(() => undefined);
        throw e;
      }
      if (live) live.offset += written;
      return { ...state, size: state.size + written };
    });
  }

  /** Verifies the upload against `digest`; on a match the data becomes the blob (stored once), else the upload is discarded. */
  async completeUpload(name: string, uuid: string, digest: string, expectedSize?: number): Promise<{ digest: string; size: number }> {
    return this.uploadLock(uuid).run(async () => {
      const state = await this.uploadState(name, uuid);
      const dir = this.uploadDir(name, uuid);
      const dataPath = join(dir, 'data');
      const live = this.hashes.get(uuid);
      let actual: string;
      if (live && live.offset === state.size) actual = `sha256:${live.hash.copy().digest('hex')}`;
      else {
        const h = createHash('sha256');
        await pipeline(createReadStream(dataPath), h);
        actual = `sha256:${h.digest('hex')}`;
      }
      if (expectedSize !== undefined && expectedSize !== state.size) {
        await this.dropUpload(name, uuid);
        throw regError('SIZE_INVALID', `upload has ${state.size} bytes, expected ${expectedSize}`);
      }
      if (actual !== digest) {
        await this.dropUpload(name, uuid);
        throw regError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`, { expected: digest, actual });
      }
      const fh = await open(dataPath, 'r+');
      await fh.sync();
      await fh.close();
      await mkdir(this.blobs.blobsDir, { recursive: true });
      await this.lock.run(async () => {
        if (await this.blobs.has(digest)) await utimes(this.blobs.path(digest), new Date(), new Date());
        else {
          await rename(dataPath, this.blobs.path(digest));
          await syncDir(this.blobs.blobsDir);
        }
        await this.link(this.layerLink(name, digest));
      });
      await this.dropUpload(name, uuid);
      return { digest, size: state.size };
    });
  }

  async cancelUpload(name: string, uuid: string): Promise<void> {
    await this.uploadState(name, uuid);
    await this.dropUpload(name, uuid);
  }

  private async dropUpload(name: string, uuid: string): Promise<void> {
    this.hashes.delete(uuid);
    this.uploadLocks.delete(uuid);
    await rm(this.uploadDir(name, uuid), { recursive: true, force: true });
  }

  /** Removes every upload session untouched for longer than `maxAgeMs` (default: the storage's limit); returns their ids. */
  async sweepUploads(maxAgeMs = this.uploadMaxAgeMs): Promise<string[]> {
    const purged: string[] = [];
    for (const [name, ids] of await this.uploadsInProgress()) {
      for (const uuid of ids) {
        await this.uploadLock(uuid).run(async () => {
          const dir = this.uploadDir(name, uuid);
          if (!(await pathExists(dir))) return;
          // a session without data (a crash between mkdir and create) counts as abandoned
          const st = await stat(join(dir, 'data')).catch(() => undefined);
          if (st && Date.now() - st.mtimeMs <= maxAgeMs) return;
          await this.dropUpload(name, uuid);
          purged.push(uuid);
        });
      }
    }
    return purged;
  }

  /** Upload sessions in progress, per repository. */
  async uploadsInProgress(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const name of await this.allRepoDirs()) {
      const ids = (await readDirOrEmpty(join(this.repoDir(name), '_uploads'))).filter((u) => UUID_RE.test(u));
      if (ids.length) out.set(name, ids);
    }
    return out;
  }

  /** Every repository directory, including ones with only blobs or uploads. */
  /** @internal (gc.ts) */
  async allRepoDirs(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      if (entries.some((e) => e.isDirectory() && ['_manifests', '_layers', '_uploads'].includes(e.name))) out.push(relative(this.reposDir, dir).split(sep).join('/'));
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name));
    };
    await walk(this.reposDir);
    return out;
  }

  // ---- manifests ----

  async resolveTag(name: string, tag: string): Promise<string | undefined> {
    try {
      const d = (await readFile(join(this.tagsDir(name), tag), 'utf8')).trim();
      return isDigest(d) ? d : undefined;
    } catch {
      return undefined;
    }
  }

  async getManifest(name: string, digest: string): Promise<StoredManifest | undefined> {
    const rec = (await readJsonIfExists(this.revisionLink(name, digest)).catch(() => undefined)) as { mediaType?: string } | undefined;
    if (!rec) return undefined;
    const bytes = await this.blobs.read(digest).catch(() => undefined);
    if (!bytes) return undefined;
    return { digest, mediaType: rec.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', bytes };
  }

  /** Stores a verified manifest; `check` runs under the lock so garbage collection cannot remove what it found. */
  async putManifest(name: string, bytes: Buffer, digest: string, mediaType: string, tag: string | undefined, check: () => Promise<void>): Promise<void> {
    await this.lock.run(async () => {
      await check();
      await this.blobs.putBuffer(bytes, digest);
      await atomicWriteJson(this.revisionLink(name, digest), { mediaType });
      if (tag) await atomicWriteFile(join(this.tagsDir(name), tag), digest);
    });
  }

  async tags(name: string): Promise<string[]> {
    return (await readDirOrEmpty(this.tagsDir(name))).filter((t) => !t.includes('.tmp-')).sort();
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    return this.lock.run(async () => {
      const p = join(this.tagsDir(name), tag);
      if (!(await pathExists(p))) return false;
      await rm(p, { force: true });
      return true;
    });
  }

  /** Deletes a manifest revision and every tag pointing at it. */
  async deleteManifest(name: string, digest: string): Promise<boolean> {
    return this.lock.run(async () => {
      const p = this.revisionLink(name, digest);
      if (!(await pathExists(p))) return false;
      for (const t of await this.tags(name)) if ((await this.resolveTag(name, t)) === digest) await rm(join(this.tagsDir(name), t), { force: true });
      await rm(p, { force: true });
      return true;
    });
  }

  /** @internal (gc.ts) */
  async revisions(name: string): Promise<string[]> {
    return (await readDirOrEmpty(join(this.repoDir(name), '_manifests', 'revisions'))).filter((h) => /^[a-f0-9]{64}$/.test(h)).map((h) => `sha256:${h}`);
  }

  // ---- garbage collection (gc.ts) ----

  /** Mark and sweep of blobs no manifest needs (gc.ts). */
  gc(opts: GcOptions = {}): Promise<GcReport> {
    return collectGarbage(this, opts);
  }

  async blobCount(): Promise<number> {
    return (await this.blobs.list()).length;
  }
}
