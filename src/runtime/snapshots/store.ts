import { createReadStream } from 'node:fs';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TarWriter } from '../../util/tar/writer.js';
import { digestHex, randomHexId } from '../util/digest.js';
import { invalid, isNodeError, notFound } from '../util/errors.js';
import { pathExists, readDirOrEmpty, readJsonIfExists, replaceJson, treeSize } from '../util/fs.js';
import type { LeaseManager } from '../gc/leases.js';
import { applyLayer } from './apply-layer.js';
import { diffCopy, packCopyDiff, type CopyDiff } from './copy-diff.js';
import { diffUpper, packUpperAsLayer, type Change } from './diff.js';
import { LayerView } from './layer-view.js';
import { mergeLayerDir } from './merge.js';
import { listOpaqueDirs } from './opaque-dirs.js';
import { isOverlayMounted, overlayMount, overlaySupported, unmount } from './overlay.js';
import { unpackLayerStream } from './unpack.js';

/** Written into a copy-mode snapshot once its rootfs copy is complete; its ctime dates the copy. */
const COPY_DONE = 'copied';

export interface DiffOptions {
  /** Absolute paths left out when the image does not have them (mount points the runtime creates). */
  ignoreAdded?: ReadonlySet<string>;
}

export interface ActiveSnapshot {
  key: string;
  /** The container's root filesystem (overlay mount point, or a full copy in fallback mode). */
  rootfs: string;
  /** The writable layer (overlay upperdir); in copy mode the rootfs itself. */
  upper: string;
  /** Read-only layer directories, top first (empty in copy mode). */
  lowerdirs: string[];
  mode: 'overlay' | 'copy';
}

/**
 * Layers unpacked once into <root>/snapshots/<diffID hex>/fs, shared by every image and
 * container; containers get <root>/snapshots/active/<key>/{upper,work,merged}. With a lease
 * manager (a runtime's store), a layer unpacked or found by work in a lease is held by it.
 */
export class SnapshotStore {
  private readonly dir: string;
  private overlay: boolean | undefined;
  private readonly inflight = new Map<string, Promise<void>>();
  /** Opaque directories per unpacked layer; layers never change once unpacked. */
  private readonly opaque = new Map<string, Promise<Set<string>>>();

  constructor(root: string, private readonly opts: { forceCopy?: boolean; leases?: LeaseManager } = {}) {
    this.dir = join(root, 'snapshots');
  }

  /** Runs `fn` with the layer held by the running lease (see leases.ts). */
  private held<T>(diffID: string, fn: () => Promise<T>): Promise<T> {
    return this.opts.leases ? this.opts.leases.hold('layer', diffID, fn) : fn();
  }

  layerDir(diffID: string): string {
    return join(this.dir, digestHex(diffID), 'fs');
  }

  private activeDir(key: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw invalid(`snapshot key "${key}" has characters outside [A-Za-z0-9_.-]`);
    return join(this.dir, 'active', key);
  }

  /** Whether the layer is unpacked; inside a lease, the lease now holds it. */
  async hasLayer(diffID: string): Promise<boolean> {
    return this.held(diffID, () => pathExists(this.layerDir(diffID)));
  }

  /** Unpacks a layer blob (plain or gzip tar) unless already present; verifies the uncompressed digest. */
  async ensureLayer(diffID: string, blobPath: string): Promise<string> {
    const target = this.layerDir(diffID);
    if (await this.hasLayer(diffID)) return target;
    let p = this.inflight.get(diffID);
    if (!p) {
      p = this.unpack(diffID, blobPath).finally(() => this.inflight.delete(diffID));
      this.inflight.set(diffID, p);
    }
    await p;
    return target;
  }

  /**
   * Unpacks a layer from its bytes as they arrive (a download), so that unpacking overlaps the
   * transfer. The body's producer checks it against `bytesDigest` and throws at its end when it
   * does not match; `commit` (storing the blob) runs after that and the diffID check, and the layer
   * is moved into place only after `commit`: a body that fails a check leaves no layer.
   */
  async unpackStream(diffID: string, body: AsyncIterable<Buffer>, opts: { bytesDigest: string; commit: () => Promise<void> }): Promise<string> {
    const target = this.layerDir(diffID);
    const other = this.inflight.get(diffID);
    // held either way: the layer being unpacked by someone else is this work's too once it is there
    if ((await this.hasLayer(diffID)) || other) {
      // unpacked already (or by someone else right now): only the blob is wanted; should the
      // other unpack fail, the image's ensureLayer unpacks this blob
      for await (const _ of body);
      await opts.commit();
      await other?.catch(() => undefined);
      return target;
    }
    const p = this.install(diffID, body, opts).finally(() => this.inflight.delete(diffID));
    this.inflight.set(diffID, p);
    await p;
    return target;
  }

  private unpack(diffID: string, blobPath: string): Promise<void> {
    return this.install(diffID, createReadStream(blobPath, { highWaterMark: 1 << 20 }));
  }

  /** Unpacks into a temp directory in one pass, checks the diffID, commits, then moves the layer into place. */
  private async install(diffID: string, body: AsyncIterable<Buffer>, opts: { bytesDigest?: string; commit?: () => Promise<void> } = {}): Promise<void> {
    const tmp = join(this.dir, 'tmp', randomHexId());
    await mkdir(join(tmp, 'fs'), { recursive: true });
    try {
      const actual = await unpackLayerStream(body, join(tmp, 'fs'), opts);
      if (actual !== diffID) throw invalid(`layer diffID mismatch: config says ${diffID}, content is ${actual}`);
      await opts.commit?.();
      await this.held(diffID, async () => {
        if (!(await pathExists(this.layerDir(diffID)))) await rename(tmp, join(this.dir, digestHex(diffID)));
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Checks a tar can be applied safely (into a throwaway dir) without keeping anything. */
  async validateLayerTar(tarPath: string): Promise<void> {
    const tmp = join(this.dir, 'tmp', randomHexId());
    await mkdir(tmp, { recursive: true });
    try {
      await applyLayer(tarPath, tmp, 'overlay');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async listLayers(): Promise<string[]> {
    return (await readDirOrEmpty(this.dir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async layerSize(diffID: string, seen?: Set<string>): Promise<number> {
    return treeSize(this.layerDir(diffID), seen);
  }

  async removeLayer(diffID: string): Promise<void> {
    this.opaque.delete(this.layerDir(diffID));
    await rm(join(this.dir, digestHex(diffID)), { recursive: true, force: true });
  }

  private opaqueDirs(layerDir: string): Promise<Set<string>> {
    let p = this.opaque.get(layerDir);
    if (!p) {
      p = listOpaqueDirs(layerDir);
      this.opaque.set(layerDir, p);
      p.catch(() => this.opaque.delete(layerDir));
    }
    return p;
  }

  async useOverlay(): Promise<boolean> {
    if (this.opts.forceCopy) return false;
    if (this.overlay === undefined) {
      await mkdir(join(this.dir, 'tmp'), { recursive: true });
      this.overlay = await overlaySupported(join(this.dir, 'tmp'));
    }
    return this.overlay;
  }

  /** Creates (or re-mounts after a reboot) the writable snapshot `key` on top of the given layers. */
  async prepare(key: string, diffIDs: readonly string[]): Promise<ActiveSnapshot> {
    const dir = this.activeDir(key);
    // an image may hold the same layer twice (two steps with identical diffs); overlayfs refuses a repeated
    // lowerdir, and the topmost copy shadows everything the lower one has, so only that one is kept
    const lowerdirs = [...new Set(diffIDs.map((d) => this.layerDir(d)).reverse())];
    const present = await Promise.all(lowerdirs.map((l) => pathExists(l)));
    const missing = lowerdirs.find((_, i) => !present[i]);
    if (missing !== undefined) throw notFound(`layer ${missing} is not unpacked`);
    await mkdir(dir, { recursive: true });
    const [, copied, overlay] = await Promise.all([replaceJson(join(dir, 'layers.json'), diffIDs), pathExists(join(dir, 'rootfs')), this.useOverlay()]);
    if (copied || !overlay) {
      const rootfs = join(dir, 'rootfs');
      if (!(await pathExists(rootfs))) {
        const tmp = join(dir, 'rootfs-tmp');
        await rm(tmp, { recursive: true, force: true }); // an interrupted copy
        await mkdir(tmp);
        for (const l of [...lowerdirs].reverse()) await mergeLayerDir(l, tmp, await this.opaqueDirs(l));
        await writeFile(join(dir, COPY_DONE), '');
        await rename(tmp, rootfs);
      }
      return { key, rootfs, upper: rootfs, lowerdirs: [], mode: 'copy' };
    }
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const merged = join(dir, 'merged');
    const made = await Promise.all([upper, work, merged].map((d) => mkdir(d, { recursive: true })));
    if (lowerdirs.length === 0) {
      const empty = join(this.dir, 'empty');
      await mkdir(empty, { recursive: true });
      lowerdirs.push(empty);
    }
    // a merged directory made just now has nothing mounted on it
    if (made[2] !== undefined || !(await isOverlayMounted(merged))) await overlayMount(lowerdirs, upper, work, merged);
    return { key, rootfs: merged, upper, lowerdirs, mode: 'overlay' };
  }

  async get(key: string): Promise<ActiveSnapshot | undefined> {
    const dir = this.activeDir(key);
    if (await pathExists(join(dir, 'rootfs'))) return { key, rootfs: join(dir, 'rootfs'), upper: join(dir, 'rootfs'), lowerdirs: [], mode: 'copy' };
    if (!(await pathExists(join(dir, 'upper')))) return undefined;
    const layers = (await readJsonIfExists(join(dir, 'layers.json'))) as string[] | undefined;
    const lowerdirs = (layers ?? []).map((d) => this.layerDir(d)).reverse();
    return { key, rootfs: join(dir, 'merged'), upper: join(dir, 'upper'), lowerdirs, mode: 'overlay' };
  }

  async isMounted(key: string): Promise<boolean> {
    return isOverlayMounted(join(this.activeDir(key), 'merged')).catch(() => false);
  }

  async remove(key: string): Promise<void> {
    const dir = this.activeDir(key);
    await unmount(join(dir, 'merged'));
    await rm(dir, { recursive: true, force: true });
  }

  async listActive(): Promise<string[]> {
    return readDirOrEmpty(join(this.dir, 'active'));
  }

  /** Size of the writable layer (what `docker ps -s` calls size); in copy mode, of what changed. */
  async writableSize(key: string): Promise<number> {
    const s = await this.get(key);
    if (!s) return 0;
    if (s.mode === 'overlay') return treeSize(s.upper);
    const seen = new Set<string>();
    let total = 0;
    for (const c of (await this.copyDiff(key)).changes) {
      if (c.kind === 'D') continue;
      const st = await lstat(join(s.rootfs, c.path));
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id) || st.isDirectory()) continue;
      seen.add(id);
      total += st.size;
    }
    return total;
  }

  /** docker diff of the snapshot `key` against its layers. */
  async diff(key: string, o: DiffOptions = {}): Promise<Change[]> {
    const s = await this.get(key);
    if (!s) throw notFound(`snapshot ${key} not found`);
    if (s.mode === 'copy') return (await this.copyDiff(key, o)).changes;
    return (await diffUpper(s.upper, s.lowerdirs)).filter((c) => c.kind !== 'A' || !o.ignoreAdded?.has(c.path));
  }

  /** Writes what changed in snapshot `key` as an OCI layer (the writable layer of docker commit). */
  async packChanges(key: string, tar: TarWriter, o: DiffOptions = {}): Promise<void> {
    const s = await this.get(key);
    if (!s) throw notFound(`snapshot ${key} not found`);
    if (s.mode === 'copy') await packCopyDiff(tar, s.rootfs, await this.copyDiff(key, o));
    else await packUpperAsLayer(tar, s.upper);
  }

  /** Copy mode: the full rootfs against an unmounted view of the layers it was copied from. */
  private async copyDiff(key: string, o: DiffOptions = {}): Promise<CopyDiff> {
    const dir = this.activeDir(key);
    const layers = ((await readJsonIfExists(join(dir, 'layers.json'))) as string[] | undefined) ?? [];
    const lowerdirs = [...new Set(layers.map((d) => this.layerDir(d)).reverse())];
    const view = new LayerView(lowerdirs, await Promise.all(lowerdirs.map((l) => this.opaqueDirs(l))));
    // snapshots copied before the marker existed have no date: every file may have been touched
    const done = await lstat(join(dir, COPY_DONE)).catch(() => undefined);
    return diffCopy(join(dir, 'rootfs'), view, { ...(done ? { touchedSince: done.ctimeMs } : {}), ...(o.ignoreAdded ? { ignoreAdded: o.ignoreAdded } : {}) });
  }

  /** Removes unpacked layers not in `referenced` (the runtime's collector also keeps what leases hold). */
  async gc(referenced: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const d of await this.listLayers()) {
      if (referenced.has(d)) continue;
      await this.discardLayer(d);
      removed.push(d);
    }
    await this.emptyTrash();
    return removed;
  }

  /** Layers of the writable snapshots (containers, build steps, a create in progress): they are mounted or will be. */
  async activeLayers(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const key of await this.listActive()) {
      const layers = await readJsonIfExists(join(this.dir, 'active', key, 'layers.json')).catch(() => undefined);
      if (Array.isArray(layers)) for (const d of layers) if (typeof d === 'string') out.add(d);
    }
    return out;
  }

  /** Takes an unpacked layer out of use at once (a rename into <root>/snapshots/trash); emptyTrash deletes it. */
  async discardLayer(diffID: string): Promise<void> {
    this.opaque.delete(this.layerDir(diffID));
    await mkdir(join(this.dir, 'trash')).catch((e: unknown) => {
      if (!isNodeError(e, 'EEXIST')) throw e;
    });
    await rename(join(this.dir, digestHex(diffID)), join(this.dir, 'trash', `${digestHex(diffID)}-${randomHexId().slice(0, 8)}`)).catch((e: unknown) => {
      if (!isNodeError(e, 'ENOENT')) throw e;
    });
  }

  /** Deletes discarded layers; the bytes they took. */
  async emptyTrash(): Promise<number> {
    let bytes = 0;
    for (const name of await readDirOrEmpty(join(this.dir, 'trash'))) {
      const p = join(this.dir, 'trash', name);
      bytes += await treeSize(p).catch(() => 0);
      await rm(p, { recursive: true, force: true });
    }
    return bytes;
  }
}
