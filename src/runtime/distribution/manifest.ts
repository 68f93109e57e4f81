import { sha256Of } from '../util/digest.js';
import { invalid } from '../util/errors.js';
import { IndexSchema, MEDIA, ManifestSchema, type Descriptor, type ImageIndex, type Manifest } from '../images/schema.js';
import { failure, readBody, RegistryClientError, type RegistryClient } from './client.js';

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerManifestList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

const isIndexType = (t: string): boolean => t === MEDIA.ociIndex || t === MEDIA.dockerManifestList;

/** GETs a manifest and checks its digest: against the digest asked for, and against Docker-Content-Digest. */
export async function fetchManifest(client: RegistryClient, repository: string, reference: string): Promise<FetchedManifest> {
  const res = await client.request(`/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) throw await failure(res, `manifest ${repository}:${reference}`);
  const bytes = await readBody(res, MAX_MANIFEST_BYTES);
  const digest = sha256Of(bytes);
  if (reference.startsWith('sha256:') && reference !== digest) throw invalid(`manifest ${repository}@${reference}: content has digest ${digest}`);
  const header = res.headers['docker-content-digest'];
  if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
    throw invalid(`manifest ${repository}:${reference}: registry says ${header} but the content has digest ${digest}`);
  }
  let mediaType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  try {
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof declared === 'string') mediaType = declared;
  } catch {
    throw invalid(`manifest ${repository}:${reference}: not JSON`);
  }
  return { digest, mediaType, bytes };
}

export function parseIndex(m: FetchedManifest): ImageIndex | undefined {
  if (!isIndexType(m.mediaType)) {
    const doc = JSON.parse(m.bytes.toString('utf8')) as { manifests?: unknown; layers?: unknown };
    if (!Array.isArray(doc.manifests) || Array.isArray(doc.layers)) return undefined;
  }
  return IndexSchema.parse(JSON.parse(m.bytes.toString('utf8')));
}

export function parseImageManifest(m: FetchedManifest): Manifest {
  const r = ManifestSchema.safeParse(JSON.parse(m.bytes.toString('utf8')));
  if (!r.success) throw invalid(`manifest ${m.digest}: not an image manifest (${r.error.issues[0]?.message ?? 'invalid'})`);
  return r.data;
}

/** The index entry for os/arch (variant-less match preferred), as Docker resolves a multi-platform image. */
export function selectPlatform(index: ImageIndex, os: string, arch: string): Descriptor {
  const found = index.manifests.find((d) => d.platform?.os === os && d.platform.architecture === arch);
  if (!found) {
    const have = index.manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : 'unknown')).join(', ');
    throw new RegistryClientError(`no matching manifest for ${os}/${arch} in the manifest list (has: ${have || 'none'})`, 404, 'MANIFEST_UNKNOWN');
  }
  return found;
}
