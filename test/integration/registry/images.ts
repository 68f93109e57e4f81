/** Images for registry tests, pushed with raw HTTP requests (no client logic in between). */
import { createHash, randomBytes } from 'node:crypto';
import { http } from './helpers.js';

export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export async function pushBlob(url: string, name: string, data: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const d = sha(data);
  const r = await http(`${url}/v2/${name}/blobs/uploads/?digest=${d}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
  if (r.status !== 201) throw new Error(`blob push: ${r.status} ${r.body.toString()}`);
  return d;
}

export function imageManifest(config: Buffer, layers: Buffer[], mediaType = OCI_MANIFEST): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
    }),
  );
}

export async function pushImage(url: string, name: string, tag: string, headers: Record<string, string> = {}): Promise<{ digest: string; config: Buffer; layer: Buffer; manifest: Buffer }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') }));
  const layer = randomBytes(5000);
  await pushBlob(url, name, config, headers);
  await pushBlob(url, name, layer, headers);
  const manifest = imageManifest(config, [layer]);
  const r = await http(`${url}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST, ...headers } });
  if (r.status !== 201) throw new Error(`manifest push: ${r.status} ${r.body.toString()}`);
  return { digest: sha(manifest), config, layer, manifest };
}
