/**
 * Garbage collection by references, as containerd's pkg/gc does: mark from the roots (what images,
 * containers, mounted snapshots and the build cache reference) and the leases, sweep every blob and
 * unpacked layer left. Mark and sweep run in the write section of the root's GC gate (leases.ts),
 * so no work in this process holds or makes visible a resource meanwhile; a file lock keeps the
 * collectors of two processes apart. The candidates are listed before the leases and the roots are
 * read: a resource that appears after the listing is not swept this time, and one that appeared
 * before was added to its lease before it appeared, and named by an image before its lease ended.
 * Swept layers are renamed into <root>/snapshots/trash and deleted after the gate is open again.
 */
import { join } from 'node:path';
import type { ContentStore } from '../content/store.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { FileLock } from '../util/file-lock.js';
import { pathExists } from '../util/fs.js';
import type { LeaseManager } from './leases.js';

export interface GcRoots {
  /** Blob digests. */
  blobs: Set<string>;
  /** Layer diffIDs. */
  layers: Set<string>;
}

export interface GcResult {
  /** Digests of the blobs removed. */
  blobs: string[];
  /** diffIDs of the unpacked layers removed. */
  layers: string[];
  /** Bytes freed (blobs and layers). */
  bytes: number;
}

export interface CollectorOptions {
  root: string;
  content: ContentStore;
  snapshots: SnapshotStore;
  leases: LeaseManager;
  roots(): Promise<GcRoots>;
  /** How long schedule() waits for more removals before collecting (default 500 ms). */
  delayMs?: number;
  /** A scheduled collection failed (one line per failure). */
  onError?(e: unknown): void;
}

export class GarbageCollector {
  private readonly lock: FileLock;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<GcResult> | undefined;
  private closed = false;

  constructor(private readonly o: CollectorOptions) {
    this.lock = new FileLock(join(o.root, 'gc.lock'));
  }

  /** Collects now (after a collection already running, which may predate what the caller just removed). */
  async collect(): Promise<GcResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Collects soon: removals in a burst (an image and its containers, a prune) share one collection. */
  schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.collect().catch((e: unknown) => this.o.onError?.(e));
    }, this.o.delayMs ?? 500);
    this.timer.unref();
  }

  /** Cancels a scheduled collection. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** No collection from now on but those asked for with collect(); waits for one running, closes the lock file. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancel();
    await this.running?.catch(() => undefined);
    await this.lock.close();
  }

  private async sweep(): Promise<GcResult> {
    const { content, snapshots, leases } = this.o;
    // a root removed meanwhile (a test's teardown) has nothing to collect
    if (!(await pathExists(this.o.root))) return { blobs: [], layers: [], bytes: 0 };
    const swept = await this.lock.run(() =>
      leases.gate.write(async () => {
        const [blobs, layers] = await Promise.all([content.list(), snapshots.listLayers()]);
        const held = await leases.held();
        const roots = await this.o.roots();
        const out = { blobs: [] as string[], layers: [] as string[], bytes: 0 };
        for (const d of blobs) {
          if (roots.blobs.has(d) || held.blobs.has(d)) continue;
          out.bytes += await content.size(d).catch(() => 0);
          await content.delete(d);
          out.blobs.push(d);
        }
        for (const d of layers) {
          if (roots.layers.has(d) || held.layers.has(d)) continue;
          await snapshots.discardLayer(d);
          out.layers.push(d);
        }
        await content.removeStaleIngests();
        return out;
      }),
    );
    swept.bytes += await snapshots.emptyTrash();
    return swept;
  }
}
