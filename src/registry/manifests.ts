import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { regError } from './errors.js';
import { registryBytesReceived, registryBytesSent } from './metrics.js';
import { isDigest, validateReference } from './names.js';
import type { RegistryStorage } from './storage.js';

export const MANIFEST_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const INDEX_TYPES = new Set<string>([MANIFEST_TYPES.ociIndex, MANIFEST_TYPES.dockerManifestList]);
const IMAGE_TYPES = new Set<string>([MANIFEST_TYPES.ociManifest, MANIFEST_TYPES.dockerManifest]);

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Reads a request body up to `limit` bytes; more is refused with 413 SIZE_INVALID. */
export async function readLimited(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw regError('SIZE_INVALID', `manifest of ${declared} bytes exceeds the ${limit} byte limit`, { limit }, 413);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw regError('SIZE_INVALID', `manifest exceeds the ${limit} byte limit`, { limit }, 413);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

interface DescriptorLike {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
}

function descriptor(d: unknown, field: string): { digest: string; size: number; mediaType: string; urls: boolean } {
  const o = (d && typeof d === 'object' ? d : {}) as DescriptorLike;
  if (typeof o.digest !== 'string' || !isDigest(o.digest)) throw regError('MANIFEST_INVALID', `${field}.digest: "${String(o.digest)}" is not a sha256 digest`);
  if (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 0) throw regError('MANIFEST_INVALID', `${field}.size: must be a non-negative integer`);
  if (typeof o.mediaType !== 'string' || o.mediaType === '') throw regError('MANIFEST_INVALID', `${field}.mediaType: required`);
  return { digest: o.digest, size: o.size, mediaType: o.mediaType, urls: Array.isArray(o.urls) && o.urls.length > 0 };
}

/** Works out and checks a manifest's media type and shape; returns the descriptors it needs present. */
export function inspectManifest(bytes: Buffer, contentType: string | undefined): { mediaType: string; blobs: Array<{ digest: string; size: number; urls: boolean }>; children: string[] } {
  let doc: Record<string, unknown>;
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    doc = v as Record<string, unknown>;
  } catch (e) {
    throw regError('MANIFEST_INVALID', `manifest is not a JSON object: ${(e as Error).message}`);
  }
  if (doc.schemaVersion !== 2) throw regError('MANIFEST_INVALID', `schemaVersion: ${String(doc.schemaVersion)} is not supported (schema 2 only)`);
  const ct = contentType?.split(';')[0]?.trim();
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (declared && ct && ct !== declared && ct !== 'application/json' && ct !== 'application/octet-stream') {
    throw regError('MANIFEST_INVALID', `mediaType "${declared}" does not match Content-Type "${ct}"`);
  }
  let mediaType = declared ?? (ct && (INDEX_TYPES.has(ct) || IMAGE_TYPES.has(ct)) ? ct : undefined);
  mediaType ??= Array.isArray(doc.manifests) ? MANIFEST_TYPES.ociIndex : MANIFEST_TYPES.ociManifest;
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw regError('MANIFEST_INVALID', 'manifests: an index needs a manifests array');
    return { mediaType, blobs: [], children: doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`).digest) };
  }
  if (!IMAGE_TYPES.has(mediaType)) throw regError('MANIFEST_INVALID', `mediaType "${mediaType}" is not a manifest type this registry accepts`);
  if (!Array.isArray(doc.layers)) throw regError('MANIFEST_INVALID', 'layers: an image manifest needs a layers array');
  const blobs = [descriptor(doc.config, 'config'), ...doc.layers.map((l, i) => descriptor(l, `layers[${i}]`))];
  return { mediaType, blobs, children: [] };
}

function setManifestHeaders(res: Response, m: { digest: string; mediaType: string; bytes: Buffer }): void {
  res.setHeader('Content-Type', m.mediaType);
  res.setHeader('Content-Length', String(m.bytes.length));
  res.setHeader('Docker-Content-Digest', m.digest);
  res.setHeader('ETag', `"${m.digest}"`);
}

async function resolve(storage: RegistryStorage, name: string, reference: string): Promise<{ digest: string; mediaType: string; bytes: Buffer }> {
  const ref = validateReference(reference);
  const unknown = async (): Promise<never> => {
    if (!(await storage.repositoryExists(name))) throw regError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
    throw regError('MANIFEST_UNKNOWN', `manifest ${reference} is unknown in repository ${name}`, { name, reference });
  };
  const digest = ref.digest ?? (await storage.resolveTag(name, ref.tag as string));
  if (!digest) return unknown();
  const m = await storage.getManifest(name, digest);
  return m ?? unknown();
}

export async function getManifest(storage: RegistryStorage, name: string, reference: string, req: Request, res: Response): Promise<void> {
  const m = await resolve(storage, name, reference);
  setManifestHeaders(res, m);
  if (req.method === 'HEAD') {
    res.status(200).end();
    return;
  }
  registryBytesSent.inc(m.bytes.length);
  res.status(200).end(m.bytes);
}

export async function putManifest(storage: RegistryStorage, name: string, reference: string, req: Request, res: Response, maxBytes: number): Promise<void> {
  const ref = validateReference(reference);
  const bytes = await readLimited(req, maxBytes);
  registryBytesReceived.inc(bytes.length);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (ref.digest && ref.digest !== digest) throw regError('DIGEST_INVALID', `manifest content has digest ${digest}, not ${ref.digest}`, { expected: ref.digest, actual: digest });
  const info = inspectManifest(bytes, req.headers['content-type']);
  await storage.putManifest(name, bytes, digest, info.mediaType, ref.tag, async () => {
    for (const b of info.blobs) {
      const size = await storage.blobSize(name, b.digest);
      if (size === undefined) {
        if (b.urls) continue; // foreign layer, fetched from its URLs by clients
        throw regError('MANIFEST_BLOB_UNKNOWN', `blob ${b.digest} is unknown to repository ${name}`, { digest: b.digest });
      }
      if (size !== b.size) throw regError('MANIFEST_INVALID', `descriptor of ${b.digest} says ${b.size} bytes but the blob has ${size}`, { digest: b.digest });
    }
    for (const c of info.children) {
      if (!(await storage.getManifest(name, c))) throw regError('MANIFEST_BLOB_UNKNOWN', `manifest ${c} listed in the index is unknown to repository ${name}`, { digest: c });
    }
  });
  res.setHeader('Location', `/v2/${name}/manifests/${digest}`);
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('Content-Length', '0');
  res.status(201).end();
}

export async function deleteManifest(storage: RegistryStorage, name: string, reference: string, res: Response): Promise<void> {
  const ref = validateReference(reference);
  const ok = ref.digest ? await storage.deleteManifest(name, ref.digest) : await storage.deleteTag(name, ref.tag as string);
  if (!ok) {
    if (!(await storage.repositoryExists(name))) throw regError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
    throw regError('MANIFEST_UNKNOWN', `manifest ${reference} is unknown in repository ${name}`, { name, reference });
  }
  res.setHeader('Content-Length', '0');
  res.status(202).end();
}
