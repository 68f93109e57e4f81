/** docker system df: what images, containers, volumes and the build cache take, and what each could free. */
import type { ContainerMetadataService } from '../containers/metadata.js';
import type { ContentStore } from '../content/store.js';
import type { GcRoots } from '../gc/collector.js';
import type { ImageStore } from '../images/store.js';
import type { SnapshotStore } from '../snapshots/store.js';
import type { VolumeStore } from '../volumes/store.js';

export interface DiskUsageRow {
  total: number;
  active: number;
  /** Bytes on disk; layers shared between images are counted once. */
  size: number;
  /** Bytes freed by removing what nothing uses (docker system df's RECLAIMABLE). */
  reclaimable: number;
}

export interface DiskUsage {
  /** Unpacked layers of the images; reclaimable: the layers only unused images (no container) have. */
  images: DiskUsageRow;
  /** Writable layers; reclaimable: those of stopped containers. */
  containers: DiskUsageRow;
  volumes: DiskUsageRow;
  /** Layer blobs only the build cache keeps (total: its entries); all reclaimable by pruning it. */
  buildCache: DiskUsageRow;
  /** Blobs and unpacked layers nothing references, which the next garbage collection frees. */
  unreferenced: DiskUsageRow;
}

export interface DiskUsageSources {
  images: ImageStore;
  snapshots: SnapshotStore;
  containers: ContainerMetadataService;
  volumes: VolumeStore;
  content: ContentStore;
  /** What the garbage collector keeps (images, containers, active snapshots, build cache). */
  roots(): Promise<GcRoots>;
  buildCache(): Promise<{ entries: number; blobs: Set<string> }>;
}

export async function diskUsage(d: DiskUsageSources): Promise<DiskUsage> {
  const { images, snapshots, containers, volumes, content } = d;
  const all = await containers.list({ all: true });
  const usedImages = new Set(all.map((c) => c.imageId));
  const layerSize = new Map<string, number>();
  for (const l of await snapshots.listLayers()) layerSize.set(l, await snapshots.layerSize(l));
  const ids = await images.ids();
  const layersAll = new Set<string>();
  const layersUsed = new Set<string>();
  for (const id of ids) {
    for (const l of (await images.config(id)).rootfs.diff_ids) {
      layersAll.add(l);
      if (usedImages.has(id)) layersUsed.add(l);
    }
  }
  const sum = (s: Set<string>): number => [...s].reduce((a, l) => a + (layerSize.get(l) ?? 0), 0);
  const imgSize = sum(layersAll);
  let ctrSize = 0;
  let ctrReclaim = 0;
  for (const c of all) {
    const sz = (await containers.size(c.id)).sizeRw;
    ctrSize += sz;
    if (c.status === 'exited' || c.status === 'created') ctrReclaim += sz;
  }
  const vols = await volumes.list();
  let volSize = 0;
  let volReclaim = 0;
  let volActive = 0;
  for (const v of vols) {
    const sz = await volumes.size(v.name);
    volSize += sz;
    if ((await volumes.usedBy(v.name)).length) volActive++;
    else volReclaim += sz;
  }
  const [roots, held, cache, imageBlobs, blobs] = await Promise.all([d.roots(), content.leases?.held(), d.buildCache(), images.referencedBlobs(), content.list()]);
  let cacheSize = 0;
  for (const b of cache.blobs) if (!imageBlobs.has(b)) cacheSize += await content.size(b).catch(() => 0);
  let garbageCount = 0;
  let garbageSize = 0;
  for (const b of blobs) {
    if (roots.blobs.has(b) || held?.blobs.has(b)) continue;
    garbageCount++;
    garbageSize += await content.size(b).catch(() => 0);
  }
  for (const [l, sz] of layerSize) {
    if (roots.layers.has(l) || held?.layers.has(l)) continue;
    garbageCount++;
    garbageSize += sz;
  }
  return {
    images: { total: ids.length, active: ids.filter((i) => usedImages.has(i)).length, size: imgSize, reclaimable: imgSize - sum(layersUsed) },
    containers: { total: all.length, active: all.filter((c) => c.status === 'running' || c.status === 'paused').length, size: ctrSize, reclaimable: ctrReclaim },
    volumes: { total: vols.length, active: volActive, size: volSize, reclaimable: volReclaim },
    buildCache: { total: cache.entries, active: 0, size: cacheSize, reclaimable: cacheSize },
    unreferenced: { total: garbageCount, active: 0, size: garbageSize, reclaimable: garbageSize },
  };
}
