import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { decompressTo, detectCompression } from '../snapshots/decompress.js';
import { readEntryData, readTarEntries, type TarReadEntry } from '../tar/reader.js';
import { TarWriter } from '../../util/tar/writer.js';
import { digestHex, randomHexId, sha256Of } from '../util/digest.js';
import { invalid } from '../util/errors.js';
import { normaliseTaggedName, parseReference } from './reference.js';
import { DockerArchiveManifestSchema, ImageConfigSchema, IndexSchema, MEDIA, ManifestSchema, type Descriptor, type Manifest } from './schema.js';
import type { ImageStore } from './store.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

/** docker save / OCI layout tar of one or more images (names or IDs). */
export async function saveImages(images: ImageStore, tmpDir: string, refs: readonly string[], out: string, format: ArchiveFormat): Promise<void> {
  if (refs.length === 0) throw invalid('refs: at least one image is required');
  const items = [];
  for (const ref of refs) {
    const rec = await images.resolve(ref);
    let names = await images.namesOf(rec.id);
    // saving by name keeps only that name, as docker save does
    try {
      const n = normaliseTaggedName(ref);
      if (names.includes(n)) names = [n];
    } catch {
      /* an ID */
    }
    items.push({ rec, names, manifest: await images.manifest(rec.id), config: await images.config(rec.id) });
  }
  await mkdir(tmpDir, { recursive: true });
  const tar = await TarWriter.create(out);
  const written = new Set<string>();
  try {
    if (format === 'oci-archive') {
      await tar.addBuffer({ name: 'oci-layout' }, Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
      await tar.addEntry({ name: 'blobs', type: 'dir', mode: 0o755 });
      await tar.addEntry({ name: 'blobs/sha256', type: 'dir', mode: 0o755 });
      const addBlob = async (digest: string): Promise<void> => {
        if (written.has(digest)) return;
        written.add(digest);
        await tar.addFile({ name: `blobs/sha256/${digestHex(digest)}` }, images.content.path(digest), await images.content.size(digest));
      };
      const manifests: Descriptor[] = [];
      for (const it of items) {
        for (const l of it.manifest.layers) await addBlob(l.digest);
        await addBlob(it.manifest.config.digest);
        await addBlob(it.rec.manifestDigest);
        const desc = {
          mediaType: it.manifest.mediaType ?? MEDIA.ociManifest,
          digest: it.rec.manifestDigest,
          size: await images.content.size(it.rec.manifestDigest),
        };
        if (it.names.length === 0) manifests.push(desc);
        for (const n of it.names) {
          manifests.push({ ...desc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': parseReference(n).tag ?? 'latest' } });
        }
      }
      await tar.addBuffer({ name: 'index.json' }, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })));
    } else {
      const entries = [];
      const repositories: Record<string, Record<string, string>> = {};
      for (const it of items) {
        const layerPaths: string[] = [];
        for (let i = 0; i < it.manifest.layers.length; i++) {
          const l = it.manifest.layers[i] as Descriptor;
          const diffID = it.config.rootfs.diff_ids[i] as string;
          const name = `${digestHex(diffID)}/layer.tar`;
          layerPaths.push(name);
          if (written.has(name)) continue;
          written.add(name);
          await tar.addEntry({ name: digestHex(diffID), type: 'dir', mode: 0o755 });
          const src = images.content.path(l.digest);
          if ((await detectCompression(src)) === 'none') {
            await tar.addFile({ name }, src, await images.content.size(l.digest));
          } else {
            const plain = join(tmpDir, `save-${randomHexId()}.tar`);
            try {
              await decompressTo(src, plain);
              const fh = await open(plain, 'r');
              const size = (await fh.stat()).size;
              await fh.close();
              await tar.addFile({ name }, plain, size);
            } finally {
              await rm(plain, { force: true });
            }
          }
        }
        const configName = `${digestHex(it.rec.id)}.json`;
        if (!written.has(configName)) {
          written.add(configName);
          await tar.addBuffer({ name: configName }, await images.content.read(it.rec.id));
        }
        entries.push({ Config: configName, RepoTags: it.names, Layers: layerPaths });
        const top = layerPaths[layerPaths.length - 1]?.split('/')[0];
        for (const n of it.names) {
          const p = parseReference(n);
          if (top) (repositories[p.repository] ??= {})[p.tag ?? 'latest'] = top;
        }
      }
      await tar.addBuffer({ name: 'manifest.json' }, Buffer.from(JSON.stringify(entries)));
      await tar.addBuffer({ name: 'repositories' }, Buffer.from(JSON.stringify(repositories)));
    }
    await tar.close();
  } catch (e) {
    await tar.abort();
    await rm(out, { force: true });
    throw e;
  }
}

class ArchiveIndex {
  private constructor(
    readonly fh: FileHandle,
    readonly path: string,
    private readonly entries: Map<string, TarReadEntry>,
  ) {}

  static async open(path: string): Promise<ArchiveIndex> {
    const fh = await open(path, 'r');
    const entries = new Map<string, TarReadEntry>();
    try {
      for await (const e of readTarEntries(fh)) entries.set(e.name, e);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new ArchiveIndex(fh, path, entries);
  }

  /** A regular file of the archive, following in-archive symlinks (docker save uses them for repeated layers). */
  file(name: string, hops = 0): TarReadEntry {
    const e = this.entries.get(posix.normalize(name).replace(/^\.\//, ''));
    if (!e) throw invalid(`archive: "${name}" is missing`);
    if (e.type === 'symlink' && hops < 16) return this.file(posix.join(posix.dirname(e.name), e.linkname), hops + 1);
    if (e.type !== 'file') throw invalid(`archive: "${name}" is not a regular file`);
    return e;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  async json(name: string): Promise<unknown> {
    try {
      return JSON.parse((await readEntryData(this.fh, this.file(name))).toString('utf8')) as unknown;
    } catch (e) {
      if (e instanceof SyntaxError) throw invalid(`archive: ${name} is not valid JSON`);
      throw e;
    }
  }

  stream(e: TarReadEntry): NodeJS.ReadableStream & AsyncIterable<Buffer> {
    if (e.size === 0) return (async function* () {})() as unknown as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    return createReadStream(this.path, { start: e.dataOffset, end: e.dataOffset + e.size - 1 });
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export interface LoadOptions {
  /** Name for images the archive leaves unnamed (e.g. an OCI archive annotated only with a tag). */
  repository?: string;
}

export interface LoadedImage {
  id: string;
  names: string[];
}

/** docker load: accepts docker-archive (incl. Docker 25+ OCI-style) and OCI image layout archives. */
export async function loadImages(images: ImageStore, archivePath: string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
  const ar = await ArchiveIndex.open(archivePath);
  try {
    if (ar.has('manifest.json')) return await loadDockerArchive(images, ar);
    if (ar.has('index.json')) return await loadOciArchive(images, ar, opts);
    throw invalid('archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found');
  } finally {
    await ar.close();
  }
}

async function loadDockerArchive(images: ImageStore, ar: ArchiveIndex): Promise<LoadedImage[]> {
  const items = DockerArchiveManifestSchema.parse(await ar.json('manifest.json'));
  const out: LoadedImage[] = [];
  for (const item of items) {
    const configBytes = await readEntryData(ar.fh, ar.file(item.Config));
    const config = ImageConfigSchema.parse(JSON.parse(configBytes.toString('utf8')));
    if (config.rootfs.diff_ids.length !== item.Layers.length) throw invalid(`archive: ${item.Config} lists ${config.rootfs.diff_ids.length} layers, manifest.json ${item.Layers.length}`);
    const layers = [];
    for (let i = 0; i < item.Layers.length; i++) {
      const entry = ar.file(item.Layers[i] as string);
      const digest = await images.content.ingest(ar.stream(entry));
      const gz = (await detectCompression(images.content.path(digest))) === 'gzip';
      layers.push({ descriptor: { mediaType: gz ? MEDIA.ociLayerGzip : MEDIA.ociLayer, digest, size: entry.size }, diffID: config.rootfs.diff_ids[i] as string });
    }
    const names = (item.RepoTags ?? []).map((n) => normaliseTaggedName(n, 'RepoTags'));
    out.push({ id: await images.addImage(configBytes, layers, { names }), names });
  }
  return out;
}

async function loadOciArchive(images: ImageStore, ar: ArchiveIndex, opts: LoadOptions): Promise<LoadedImage[]> {
  const blob = (digest: string): TarReadEntry => ar.file(`blobs/sha256/${digestHex(digest)}`);
  const ingest = async (d: Descriptor): Promise<string> => images.content.ingest(ar.stream(blob(d.digest)), d.digest);
  const readBlob = async (d: Descriptor): Promise<Buffer> => {
    const data = await readEntryData(ar.fh, blob(d.digest));
    if (sha256Of(data) !== d.digest) throw invalid(`archive: blob ${d.digest} does not match its digest`);
    return data;
  };
  const index = IndexSchema.parse(await ar.json('index.json'));
  const out = new Map<string, LoadedImage>();
  const loadManifest = async (desc: Descriptor, name: string | undefined): Promise<void> => {
    if (desc.mediaType === MEDIA.ociIndex || desc.mediaType === MEDIA.dockerManifestList) {
      const nested = IndexSchema.parse(JSON.parse((await readBlob(desc)).toString('utf8')));
      const arch = nested.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === (process.arch === 'x64' ? 'amd64' : process.arch)) ?? nested.manifests[0];
      if (!arch) throw invalid('archive: empty nested index');
      return loadManifest(arch, name);
    }
    const manifestBytes = await readBlob(desc);
    const manifest: Manifest = ManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
    const configBytes = await readBlob(manifest.config);
    const config = ImageConfigSchema.parse(JSON.parse(configBytes.toString('utf8')));
    const layers = [];
    for (let i = 0; i < manifest.layers.length; i++) {
      const l = manifest.layers[i] as Descriptor;
      await ingest(l);
      layers.push({ descriptor: l, diffID: config.rootfs.diff_ids[i] as string });
    }
    const names = name ? [name] : [];
    const id = await images.addImage(configBytes, layers, { names, manifestBytes });
    const prev = out.get(id);
    out.set(id, { id, names: [...(prev?.names ?? []), ...names] });
  };
  for (const desc of index.manifests) {
    const ann = desc.annotations ?? {};
    let name = ann['io.containerd.image.name'];
    const refName = ann['org.opencontainers.image.ref.name'];
    if (!name && refName) {
      if (refName.includes(':') || refName.includes('/')) name = refName;
      else if (opts.repository) name = `${opts.repository}:${refName}`;
    }
    await loadManifest(desc, name ? normaliseTaggedName(name, 'annotation image name') : undefined);
  }
  return [...out.values()];
}
