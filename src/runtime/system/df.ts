import type { ContainerMetadataService } from '../containers/metadata.js';
import type { ImageStore } from '../images/store.js';
import type { SnapshotStore } from '../snapshots/store.js';
import type { VolumeStore } from '../volumes/store.js';

export interface DiskUsageRow {
  total: number;
  active: number;
  /** Bytes on disk; layers shared between images are counted once. */
  size: number;
  reclaimable: number;
}

export interface DiskUsage {
  images: DiskUsageRow;
  containers: DiskUsageRow;
  volumes: DiskUsageRow;
}

/** docker system df. */
export async function diskUsage(images: ImageStore, snapshots: SnapshotStore, containers: ContainerMetadataService, volumes: VolumeStore): Promise<DiskUsage> {
  const all = await containers.list({ all: true });
  const usedImages = new Set(all.map((c) => c.imageId));
  const layerSize = new Map<string, number>();
  for (const d of await snapshots.listLayers()) layerSize.set(d, await snapshots.layerSize(d));
  const ids = await images.ids();
  const layersAll = new Set<string>();
  const layersUsed = new Set<string>();
  for (const id of ids) {
    for (const d of (await images.config(id)).rootfs.diff_ids) {
      layersAll.add(d);
      if (usedImages.has(id)) layersUsed.add(d);
    }
  }
  const sum = (s: Set<string>): number => [...s].reduce((a, d) => a + (layerSize.get(d) ?? 0), 0);
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
  return {
    images: { total: ids.length, active: ids.filter((i) => usedImages.has(i)).length, size: imgSize, reclaimable: imgSize - sum(layersUsed) },
    containers: { total: all.length, active: all.filter((c) => c.status === 'running' || c.status === 'paused').length, size: ctrSize, reclaimable: ctrReclaim },
    volumes: { total: vols.length, active: volActive, size: volSize, reclaimable: volReclaim },
  };
}
