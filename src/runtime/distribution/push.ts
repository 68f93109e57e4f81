import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ImageStore } from '../images/store.js';
import { MEDIA, ManifestSchema, type Descriptor } from '../images/schema.js';
import { invalid } from '../util/errors.js';
import { failure, RegistryClientError, type RegistryClient } from './client.js';
import { mapLimit, type ProgressFn } from './pull.js';
import type { BlobSources } from './sources.js';

export interface PushOptions {
  onProgress?: ProgressFn;
  concurrency?: number;
  /** Upload in PATCH chunks of this many bytes; default: one monolithic PUT per blob. */
  chunkSize?: number;
  sources?: BlobSources;
  registry?: string;
}

export interface PushResult {
  digest: string;
  size: number;
  layersPushed: number;
  layersSkipped: number;
  layersMounted: number;
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

function locationOf(res: { headers: Record<string, string | string[] | undefined>; url: string }): string {
  const loc = res.headers.location;
  if (typeof loc !== 'string' || loc === '') throw new RegistryClientError(`${res.url}: upload reply without a Location`, 502);
  return new URL(loc, res.url).toString();
}

/** Uploads one blob (content-store file) unless the registry has it; mounts it from another repository when one is known. */
async function pushBlob(client: RegistryClient, repository: string, desc: Descriptor, path: string, opts: PushOptions): Promise<'skipped' | 'mounted' | 'pushed'> {
  const head = await client.request(`/v2/${repository}/blobs/${desc.digest}`, { method: 'HEAD' });
  if (head.status === 200) {
    head.stream.resume();
    return 'skipped';
  }
  if (head.status !== 404) throw await failure(head, `HEAD blob ${desc.digest}`);
  head.stream.resume();
  let start: Awaited<ReturnType<RegistryClient['request']>> | undefined;
  const froms = opts.sources && opts.registry ? await opts.sources.find(opts.registry, desc.digest, repository) : [];
  for (const from of froms) {
    client.addScope(`repository:${from}:pull`);
    const res = await client.request(`/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`, { method: 'POST' });
    if (res.status === 201) {
      res.stream.resume();
      return 'mounted';
    }
    if (res.status === 202) {
      start = res;
      res.stream.resume();
      break;
    }
    res.stream.resume();
  }
  if (!start) {
    start = await client.request(`/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
    if (start.status !== 202) throw await failure(start, `start upload of ${desc.digest}`);
    start.stream.resume();
  }
  let location = locationOf(start);
  const size = (await stat(path)).size;
  if (size !== desc.size) throw invalid(`blob ${desc.digest}: the manifest lists ${desc.size} bytes but the local blob has ${size}`);
  const report = (current: number): void => opts.onProgress?.({ digest: desc.digest, status: 'Pushing', current, total: size });
  const counted = (s: number, e: number) => (): NodeJS.ReadableStream & import('node:stream').Readable => {
    const r = createReadStream(path, { start: s, end: e, highWaterMark: 1024 * 1024 });
    let n = s;
    r.on('data', (c) => report((n += c.length)));
    return r;
  };
  if (opts.chunkSize && size > opts.chunkSize) {
    for (let off = 0; off < size; off += opts.chunkSize) {
      const end = Math.min(size, off + opts.chunkSize) - 1;
      const res = await client.request(location, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - off + 1), 'content-range': `${off}-${end}` },
        body: counted(off, end),
      });
      if (res.status !== 202) throw await failure(res, `upload chunk ${off}-${end} of ${desc.digest}`);
      res.stream.resume();
      location = locationOf(res);
    }
    const fin = await client.request(withDigest(location, desc.digest), { method: 'PUT', headers: { 'content-length': '0' } });
    if (fin.status !== 201) throw await failure(fin, `finish upload of ${desc.digest}`);
    fin.stream.resume();
  } else {
    const res = await client.request(withDigest(location, desc.digest), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: size === 0 ? Buffer.alloc(0) : counted(0, size - 1),
    });
    if (res.status !== 201) throw await failure(res, `upload of ${desc.digest}`);
    res.stream.resume();
  }
  return 'pushed';
}

/** Pushes a local image (its stored manifest, byte for byte) to repository:tag on one registry. */
export async function pushImage(client: RegistryClient, images: ImageStore, localRef: string, repository: string, tag: string, opts: PushOptions = {}): Promise<PushResult> {
  const rec = await images.resolve(localRef);
  const manifestBytes = await images.content.read(rec.manifestDigest);
  const manifest = ManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  const blobs = [...manifest.layers, manifest.config];
  client.addScope(`repository:${repository}:pull,push`);
  // ask for pull on mount sources in the first token, so mounts need no second round of auth
  if (opts.sources && opts.registry) {
    for (const b of [...manifest.layers, manifest.config]) for (const from of await opts.sources.find(opts.registry, b.digest, repository)) client.addScope(`repository:${from}:pull`);
  }
  const result: PushResult = { digest: rec.manifestDigest, size: manifestBytes.length, layersPushed: 0, layersSkipped: 0, layersMounted: 0 };
  for (const b of manifest.layers) opts.onProgress?.({ digest: b.digest, status: 'Waiting', current: 0, total: b.size });
  await mapLimit(blobs, opts.concurrency ?? 3, async (b) => {
    const isLayer = b !== manifest.config;
    const outcome = await pushBlob(client, repository, b, images.content.path(b.digest), isLayer ? opts : { ...opts, onProgress: undefined });
    if (!isLayer) return;
    if (outcome === 'skipped') result.layersSkipped++;
    else if (outcome === 'mounted') result.layersMounted++;
    else result.layersPushed++;
    const status = outcome === 'skipped' ? 'Layer already exists' : outcome === 'mounted' ? 'Mounted' : 'Pushed';
    opts.onProgress?.({ digest: b.digest, status, current: b.size, total: b.size });
  });
  const res = await client.request(`/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType ?? MEDIA.ociManifest },
    body: manifestBytes,
  });
  if (res.status !== 201) throw await failure(res, `manifest ${repository}:${tag}`);
  res.stream.resume();
  const got = res.headers['docker-content-digest'];
  if (typeof got === 'string' && got !== rec.manifestDigest) throw invalid(`registry stored the manifest as ${got}, expected ${rec.manifestDigest}`);
  if (opts.sources && opts.registry) await opts.sources.record(opts.registry, repository, blobs.map((b) => b.digest));
  return result;
}
