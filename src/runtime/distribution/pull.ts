import { goArch, type Descriptor } from '../images/schema.js';
import type { ImageStore } from '../images/store.js';
import { sha256Of } from '../util/digest.js';
import { invalid } from '../util/errors.js';
import { Semaphore } from '../util/semaphore.js';
import { BlobDownload } from './blob-download.js';
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
  /** Parallel layer downloads (default 3, as Docker); a layer unpacks while it downloads. */
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
  const slots = new Semaphore(Math.max(1, opts.concurrency ?? 3));
  await Promise.all(
    manifest.layers.map(async (l, i) => {
      if (await content.has(l.digest)) {
        present++;
        opts.onProgress?.({ digest: l.digest, status: 'Already exists', current: l.size, total: l.size });
        return;
      }
      const release = await slots.acquire();
      try {
        const dl = await BlobDownload.open(content, l);
        const body = dl.chunks(client, repository, {
          retries: opts.retries,
          onBytes: (current) => opts.onProgress?.({ digest: l.digest, status: 'Downloading', current, total: l.size }),
          onRetry: (attempt, err) => opts.onProgress?.({ digest: l.digest, status: 'Retrying', current: 0, total: l.size, detail: `attempt ${attempt + 1}: ${err.message}` }),
        });
        const commit = async (): Promise<void> => {
          // the transfer is over: the next layer may start downloading while this one is synced to disk
          release();
          opts.onProgress?.({ digest: l.digest, status: 'Download complete', current: l.size, total: l.size });
          await dl.commit();
        };
        try {
          // the layer unpacks as its bytes arrive; the blob and the layer are kept only once the digests check out
          await images.snapshots.unpackStream(diffIDs[i] as string, body, { bytesDigest: l.digest, commit });
        } catch (e) {
          // a corrupt download often shows first as a broken tar: its digest error says what went wrong
          const downloadError = await dl.readToEnd(client, repository, { retries: opts.retries }).then(
            () => undefined,
            (err: unknown) => err,
          );
          await dl.abort();
          throw downloadError ?? e;
        }
      } finally {
        release();
      }
      bytes += l.size;
      downloaded++;
    }),
  );
  const id = await images.addImage(
    configBytes,
    manifest.layers.map((l, i) => ({ descriptor: l, diffID: diffIDs[i] as string })),
    { names: localName ? [localName] : [], manifestBytes: manifestRef.bytes },
  );
  for (const l of manifest.layers) opts.onProgress?.({ digest: l.digest, status: 'Pull complete', current: l.size, total: l.size });
  if (opts.sources && opts.registry) await opts.sources.record(opts.registry, repository, [...manifest.layers.map((l) => l.digest), manifest.config.digest]);
  return { id, manifestDigest: manifestRef.digest, digest: top.digest, name: localName, layersDownloaded: downloaded, layersPresent: present, bytesDownloaded: bytes };
}
