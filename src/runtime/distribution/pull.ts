import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { ContentStore } from '../content/store.js';
import { goArch, type Descriptor } from '../images/schema.js';
import type { ImageStore } from '../images/store.js';
import { sha256Of } from '../util/digest.js';
import { invalid } from '../util/errors.js';
import { failure, readBody, RegistryClientError, type RegistryClient } from './client.js';
import { fetchManifest, parseImageManifest, parseIndex, selectPlatform } from './manifest.js';
import type { BlobSources } from './sources.js';

export type LayerStatus = 'Waiting' | 'Already exists' | 'Downloading' | 'Retrying' | 'Verifying Checksum' | 'Download complete' | 'Pull complete' | 'Pushing' | 'Layer already exists' | 'Mounted' | 'Pushed';

export interface LayerProgress {
  /** The layer's digest. */
  digest: string;
  status: LayerStatus;
  current: number;
  total: number;
  detail?: string;
}

export type ProgressFn = (p: LayerProgress) => void;

export interface PullOptions {
  onProgress?: ProgressFn;
  /** Parallel layer downloads (default 3, as Docker). */
  concurrency?: number;
  /** Attempts per blob before giving up (default 5); each retry resumes where the last one stopped. */
  retries?: number;
  platform?: { os: string; architecture: string };
}

export interface PullResult {
  id: string;
  manifestDigest: string;
  /** Digest of what the reference named: an index when the image is multi-platform. */
  digest: string;
  name?: string;
  layersDownloaded: number;
  layersPresent: number;
  bytesDownloaded: number;
}

/** Runs `fn` over items with at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Downloads a blob into the content store: streamed to an ingest file while hashing; a transfer
 * that breaks off is resumed with a Range request; the digest and size are checked before the
 * file is moved into place.
 */
export async function downloadBlob(client: RegistryClient, content: ContentStore, repository: string, desc: Descriptor, opts: { retries?: number; onBytes?: (current: number) => void; onRetry?: (attempt: number, err: Error) => void } = {}): Promise<number> {
  const tmp = await content.newIngestPath();
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  let hash = createHash('sha256');
  let received = 0;
  const attempts = opts.retries ?? 5;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const headers: Record<string, string> = received > 0 ? { range: `bytes=${received}-` } : {};
        const res = await client.request(`/v2/${repository}/blobs/${desc.digest}`, { headers });
        if (res.status !== 200 && res.status !== 206) {
          const err = await failure(res, `blob ${desc.digest}`);
          if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw Object.assign(err, { fatal: true });
          throw err;
        }
        if (received > 0 && res.status === 200) {
          // the registry ignored the Range and sends everything again: start over
          received = 0;
          hash = createHash('sha256');
          await fh.truncate(0);
        }
        // chunks are gathered and written with one writev per MiB; what arrived before a break is kept
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = async (): Promise<void> => {
          if (pendingBytes === 0) return;
          await fh.writev(pending, received);
          received += pendingBytes;
          pending = [];
          pendingBytes = 0;
          opts.onBytes?.(received);
        };
        try {
          for await (const chunk of res.stream as AsyncIterable<Buffer>) {
            if (received + pendingBytes + chunk.length > desc.size) throw Object.assign(invalid(`blob ${desc.digest}: more than the ${desc.size} bytes the manifest lists`), { fatal: true });
            hash.update(chunk);
            pending.push(chunk);
            pendingBytes += chunk.length;
            if (pendingBytes >= 1024 * 1024) await flush();
          }
        } finally {
          await flush();
        }
        if (received < desc.size) throw new Error(`blob ${desc.digest}: transfer ended after ${received} of ${desc.size} bytes`);
        break;
      } catch (e) {
        const err = e as Error & { fatal?: boolean };
        if (err.fatal || attempt >= attempts) throw e;
        opts.onRetry?.(attempt, err);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== desc.digest) throw invalid(`blob ${desc.digest}: downloaded content has digest ${actual}`);
    await fh.sync();
    await fh.close();
    await content.commitIngested(tmp, desc.digest);
    return received;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

async function fetchSmallBlob(client: RegistryClient, repository: string, desc: Descriptor): Promise<Buffer> {
  const res = await client.request(`/v2/${repository}/blobs/${desc.digest}`);
  if (res.status !== 200) throw await failure(res, `blob ${desc.digest}`);
  const bytes = await readBody(res, 64 * 1024 * 1024);
  if (sha256Of(bytes) !== desc.digest) throw invalid(`blob ${desc.digest}: content has digest ${sha256Of(bytes)}`);
  return bytes;
}

/** Pulls repository:reference from one registry endpoint into the image store and names it `localName`. */
export async function pullImage(client: RegistryClient, images: ImageStore, repository: string, reference: string, localName: string | undefined, opts: PullOptions & { sources?: BlobSources; registry?: string } = {}): Promise<PullResult> {
  client.addScope(`repository:${repository}:pull`);
  const top = await fetchManifest(client, repository, reference);
  let manifestRef = top;
  const index = parseIndex(top);
  if (index) {
    const want = opts.platform ?? { os: 'linux', architecture: goArch() };
    const desc = selectPlatform(index, want.os, want.architecture);
    manifestRef = await fetchManifest(client, repository, desc.digest);
    if (parseIndex(manifestRef)) throw new RegistryClientError(`manifest ${desc.digest}: nested index is not supported`, 400, 'MANIFEST_INVALID');
  }
  const manifest = parseImageManifest(manifestRef);
  const configBytes = await fetchSmallBlob(client, repository, manifest.config);
  const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: unknown } };
  const diffIDs = Array.isArray(config.rootfs?.diff_ids) ? (config.rootfs.diff_ids as string[]) : [];
  if (diffIDs.length !== manifest.layers.length) throw invalid(`image config lists ${diffIDs.length} layers, the manifest ${manifest.layers.length}`);
  const content = images.content;
  let downloaded = 0;
  let present = 0;
  let bytes = 0;
  for (const l of manifest.layers) opts.onProgress?.({ digest: l.digest, status: 'Waiting', current: 0, total: l.size });
  await mapLimit(manifest.layers, opts.concurrency ?? 3, async (l, i) => {
    if (await content.has(l.digest)) {
      present++;
      opts.onProgress?.({ digest: l.digest, status: 'Already exists', current: l.size, total: l.size });
      return;
    }
    const n = await downloadBlob(client, content, repository, l, {
      retries: opts.retries,
      onBytes: (current) => opts.onProgress?.({ digest: l.digest, status: 'Downloading', current, total: l.size }),
      onRetry: (attempt, err) => opts.onProgress?.({ digest: l.digest, status: 'Retrying', current: 0, total: l.size, detail: `attempt ${attempt + 1}: ${err.message}` }),
    });
    bytes += n;
    downloaded++;
    opts.onProgress?.({ digest: l.digest, status: 'Download complete', current: l.size, total: l.size });
    // unpack while the other layers still download (addImage then finds it done); a bad layer fails the pull
    await images.snapshots.ensureLayer(diffIDs[i] as string, content.path(l.digest));
  });
  const id = await images.addImage(
    configBytes,
    manifest.layers.map((l, i) => ({ descriptor: l, diffID: diffIDs[i] as string })),
    { names: localName ? [localName] : [], manifestBytes: manifestRef.bytes },
  );
  for (const l of manifest.layers) opts.onProgress?.({ digest: l.digest, status: 'Pull complete', current: l.size, total: l.size });
  if (opts.sources && opts.registry) await opts.sources.record(opts.registry, repository, [...manifest.layers.map((l) => l.digest), manifest.config.digest]);
  return { id, manifestDigest: manifestRef.digest, digest: top.digest, name: localName, layersDownloaded: downloaded, layersPresent: present, bytesDownloaded: bytes };
}
