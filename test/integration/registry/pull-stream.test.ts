/**
 * Pulls that unpack layers as their bytes arrive: plain and gzip layers, a corrupt download (no
 * blob and no unpacked layer may be left), a registry that ignores Range on resume, a diffID
 * that does not match and a hostile layer with a valid digest.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { Distribution } from '../../../src/runtime/distribution/index.js';
import { Runtime } from '../../../src/runtime/index.js';
import type { TarEntry } from '../../../src/util/tar/entry.js';
import { TarWriter } from '../../../src/util/tar/writer.js';
import { makeTempRoot } from '../runtime/helpers.js';
import { http } from './helpers.js';
import { OCI_MANIFEST, pushBlob, sha } from './images.js';
import { tamperingProxy } from './tampering-proxy.js';

type Item = Partial<TarEntry> & { name: string; type: TarEntry['type']; data?: Buffer };

describe('pulls unpack layers while they download', () => {
  let work: string;
  let reg: RunningRegistry;
  let host: string;
  let n = 0;
  const big = Buffer.alloc(3 * 1024 * 1024 + 123, 'berth');

  async function layerTar(items: Item[]): Promise<Buffer> {
    const path = join(work, `layer-${n++}.tar`);
    const t = await TarWriter.create(path);
    for (const it of items) {
      if (it.type === 'file') await t.addBuffer({ mode: 0o644, ...it }, it.data ?? Buffer.alloc(0));
      else await t.addEntry({ mode: 0o755, ...it });
    }
    await t.close();
    return readFile(path);
  }

  /** Pushes an image of the given layer blobs; diffIDs default to those of the (uncompressed) tars. */
  async function pushImage(name: string, layers: Array<{ blob: Buffer; diffID: string; gzip?: boolean }>): Promise<void> {
    const url = `http://${host}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) } }));
    await pushBlob(url, name, config);
    for (const l of layers) await pushBlob(url, name, l.blob);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, digest: sha(l.blob), size: l.blob.length })),
    });
    const r = await http(`${url}/v2/${name}/manifests/1`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    expect(r.status).toBe(201);
  }

  const fresh = (label: string): { rt: Runtime; dist: Distribution } => {
    const rt = new Runtime({ root: join(work, label) });
    return { rt, dist: new Distribution({ images: rt.images, root: rt.root, credentialsPath: join(work, `${label}.json`) }) };
  };

  /** Nothing of a failed pull may remain: no blob, no unpacked layer, no ingest or unpack leftovers. */
  async function expectNothingKept(rt: Runtime): Promise<void> {
    expect(await rt.images.content.list()).toEqual([]);
    expect(await rt.images.snapshots.listLayers()).toEqual([]);
    expect(await readdir(join(rt.root, 'content', 'ingest')).catch(() => [])).toEqual([]);
    expect(await readdir(join(rt.root, 'snapshots', 'tmp')).catch(() => [])).toEqual([]);
    expect(await rt.images.list()).toEqual([]);
  }

  beforeAll(async () => {
    work = await makeTempRoot('pull-stream');
    reg = await startRegistry({ dataDir: join(work, 'reg'), listen: '127.0.0.1:0', auth: 'off' });
    host = new URL(reg.url).host;
    const plain = await layerTar([{ name: 'data', type: 'dir' }, { name: 'data/big.bin', type: 'file', data: big }, { name: 'data/small', type: 'file', data: Buffer.from('hello') }]);
    const second = await layerTar([{ name: 'etc', type: 'dir' }, { name: 'etc/motd', type: 'file', data: Buffer.from('welcome\n') }]);
    await pushImage('stream/app', [
      { blob: plain, diffID: sha(plain) },
      { blob: gzipSync(second), diffID: sha(second), gzip: true },
    ]);
    await pushImage('stream/plain', [{ blob: plain, diffID: sha(plain) }]);
    const gz = await layerTar([{ name: 'f', type: 'file', data: randomBytes(100_000) }]);
    await pushImage('stream/gz', [{ blob: gzipSync(gz), diffID: sha(gz), gzip: true }]);
  });
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pulls plain and gzip layers, unpacked and stored by digest', async () => {
    const { rt, dist } = fresh('ok');
    const statuses: string[] = [];
    const r = await dist.pull(`${host}/stream/app:1`, { onProgress: (p) => statuses.push(p.status) });
    expect(r.layersDownloaded).toBe(2);
    const cfg = await rt.images.config(r.id);
    const [d0, d1] = cfg.rootfs.diff_ids as [string, string];
    expect((await readFile(join(rt.images.snapshots.layerDir(d0), 'data/big.bin'))).equals(big)).toBe(true);
    expect(await readFile(join(rt.images.snapshots.layerDir(d1), 'etc/motd'), 'utf8')).toBe('welcome\n');
    // config, manifest and the two layers
    expect(await rt.images.content.list()).toHaveLength(4);
    expect(statuses.filter((s) => s === 'Download complete')).toHaveLength(2);
    expect(await readdir(join(rt.root, 'snapshots', 'tmp')).catch(() => [])).toEqual([]);
    const again = await dist.pull(`${host}/stream/app:1`);
    expect(again.layersPresent).toBe(2);
  });

  it('a byte changed in transit fails the digest and leaves no blob and no unpacked layer (plain and gzip)', async () => {
    // inside big.bin's data: the tar applies fine and only the digest tells
    for (const label of ['plain', 'gzip']) {
      const p = await tamperingProxy(reg.url, { flipAt: 4096 });
      try {
        const { rt, dist } = fresh(`corrupt-${label}`);
        // gzip: the digest, or zlib's own check (gzip's CRC, a bad block) when the stream is decompressed as it
        // comes and that check fails first: which one speaks first is a race, both refuse the layer
        const refused = label === 'plain' ? /downloaded content has digest/ : /downloaded content has digest|incorrect data check|invalid (block type|distance|code|stored)/;
        await expect(dist.pull(`${p.host}/stream/${label === 'plain' ? 'plain' : 'gz'}:1`)).rejects.toThrow(refused);
        await expectNothingKept(rt);
      } finally {
        p.server.close();
      }
    }
  });

  it('resumes from a registry that ignores Range by dropping what it already has', async () => {
    const p = await tamperingProxy(reg.url, { cutAfter: 1_000_000, ignoreRange: true });
    try {
      const { rt, dist } = fresh('norange');
      const retries: string[] = [];
      const r = await dist.pull(`${p.host}/stream/app:1`, { onProgress: (x) => x.status === 'Retrying' && retries.push(x.detail ?? '') });
      expect(p.ranges.length).toBeGreaterThan(0);
      expect(retries.length).toBeGreaterThan(0);
      const d0 = (await rt.images.config(r.id)).rootfs.diff_ids[0] as string;
      expect((await readFile(join(rt.images.snapshots.layerDir(d0), 'data/big.bin'))).equals(big)).toBe(true);
    } finally {
      p.server.close();
    }
  });

  it('a layer whose diffID differs from the config, or that is hostile, keeps nothing', async () => {
    const layer = await layerTar([{ name: 'x', type: 'file', data: Buffer.from('x') }]);
    await pushImage('stream/wrong-diffid', [{ blob: layer, diffID: sha('something else') }]);
    const a = fresh('wrong-diffid');
    await expect(a.dist.pull(`${host}/stream/wrong-diffid:1`)).rejects.toThrow(/diffID mismatch/);
    await expectNothingKept(a.rt);

    const outside = join(work, 'outside');
    const hostile = await layerTar([{ name: 'ok', type: 'file', data: Buffer.alloc(100_000) }, { name: `../../../../../../..${outside}/escaped`, type: 'file', data: Buffer.from('x') }]);
    await pushImage('stream/hostile', [{ blob: hostile, diffID: sha(hostile) }]);
    const b = fresh('hostile');
    await expect(b.dist.pull(`${host}/stream/hostile:1`)).rejects.toThrow(/escapes the root/);
    await expectNothingKept(b.rt);
    expect(await readdir(outside).catch(() => [])).toEqual([]);
  });
});
