/**
 * Leases protect work in progress from the garbage collector, as containerd's do: an import, load,
 * pull, build or commit runs inside a lease, and every blob and unpacked layer it writes or finds
 * already there is held by it until the work ends, even before any image names them.
 *
 * The lease of the running work is found through AsyncLocalStorage, so the stores hold what they
 * touch without a lease being passed down every call. A resource is added to the lease, and then
 * checked for or made visible (the rename of a blob or a layer), inside a read section of the
 * root's GC gate, whose write section is the collector's mark and sweep: within the process the two
 * never interleave. Leases are also written to <root>/leases/<id>.json (before the resources they
 * add appear, after which the collector lists them), so that the collector of another process on
 * the same root keeps them too; a lease whose process has died, or that is past its expiry, no
 * longer pins anything and its file is removed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { replaceFile } from '../../util/atomic-write.js';
import { randomHexId } from '../util/digest.js';
import { readDirOrEmpty } from '../util/fs.js';
import { Mutex } from '../util/mutex.js';
import { RwLock } from '../util/rw-lock.js';

/** A lease that is never ended (a stuck pull) stops pinning its resources after this long (containerd: 24 h). */
const DEFAULT_EXPIRY_MS = 24 * 3_600_000;

const LeaseFileSchema = z.object({
  id: z.string(),
  label: z.string(),
  pid: z.number(),
  /** The process's start time (/proc/PID/stat field 22): a pid reused by another process is not the holder. */
  pidStart: z.string(),
  created: z.string(),
  expiresAt: z.string(),
  blobs: z.array(z.string()),
  layers: z.array(z.string()),
});

export type ResourceKind = 'blob' | 'layer';

export interface HeldResources {
  blobs: Set<string>;
  layers: Set<string>;
}

class Lease {
  readonly blobs = new Set<string>();
  readonly layers = new Set<string>();
  /** Writes of this lease's file, one at a time. */
  readonly writes = new Mutex();
  readonly created = new Date().toISOString();

  constructor(
    readonly manager: LeaseManager,
    readonly id: string,
    readonly label: string,
    readonly expiresAt: number,
  ) {}
}

const current = new AsyncLocalStorage<Lease>();
const managers = new Map<string, LeaseManager>();

/** The start time of a process, or undefined when there is no such process. */
function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const self = { pid: process.pid, start: processStart('self') ?? '' };

/** The lease manager of a runtime root: one per root in a process, shared by every Runtime on it. */
export function leasesFor(root: string): LeaseManager {
  const key = resolve(root);
  let m = managers.get(key);
  if (!m) managers.set(key, (m = new LeaseManager(key)));
  return m;
}

export class LeaseManager {
  /** Readers: resources being held and checked or made visible. Writer: the collector's mark and sweep. */
  readonly gate = new RwLock();
  private readonly dir: string;
  private readonly active = new Map<string, Lease>();

  constructor(root: string) {
    this.dir = join(root, 'leases');
  }

  /** Runs `fn` inside a lease (the one already running, if it is this root's), ended when `fn` settles. */
  async withLease<T>(label: string, fn: () => Promise<T>, opts: { expiresInMs?: number } = {}): Promise<T> {
    if (current.getStore()?.manager === this) return fn();
    const lease = new Lease(this, randomHexId().slice(0, 24), label, Date.now() + (opts.expiresInMs ?? DEFAULT_EXPIRY_MS));
    await this.persist(lease);
    this.active.set(lease.id, lease);
    try {
      return await current.run(lease, fn);
    } finally {
      this.active.delete(lease.id);
      await rm(this.file(lease.id), { force: true });
    }
  }

  /**
   * Runs `fn` (a check that a resource is there, or the rename that makes it appear) with the resource held
   * by the running lease, if any, and never while the collector marks and sweeps.
   */
  hold<T>(kind: ResourceKind, ref: string, fn: () => Promise<T>): Promise<T> {
    return this.gate.read(async () => {
      const lease = current.getStore();
      if (lease?.manager === this) {
        const set = kind === 'blob' ? lease.blobs : lease.layers;
        if (!set.has(ref)) {
          set.add(ref);
          await this.persist(lease);
        }
      }
      return fn();
    });
  }

  /** What the leases in force hold: this process's and those of live processes; stale lease files are removed. */
  async held(): Promise<HeldResources> {
    const out: HeldResources = { blobs: new Set(), layers: new Set() };
    const now = Date.now();
    for (const l of this.active.values()) {
      if (l.expiresAt <= now) continue;
      for (const b of l.blobs) out.blobs.add(b);
      for (const d of l.layers) out.layers.add(d);
    }
    for (const name of await readDirOrEmpty(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const path = join(this.dir, name);
      const raw = await readFile(path, 'utf8').catch(() => undefined);
      if (raw === undefined) continue;
      const f = parseLeaseFile(raw);
      // files are renamed into place, so one that does not parse is not a lease
      const stale = !f || Date.parse(f.expiresAt) <= now || (!(f.pid === self.pid && f.pidStart === self.start) && processStart(f.pid) !== f.pidStart);
      if (stale) {
        await rm(path, { force: true });
        continue;
      }
      if (f.pid === self.pid) continue; // ours: the in-memory lease is the truth
      for (const b of f.blobs) out.blobs.add(b);
      for (const d of f.layers) out.layers.add(d);
    }
    return out;
  }

  /** Leases of this process now running (for tests and diagnostics). */
  running(): Array<{ id: string; label: string; blobs: number; layers: number }> {
    return [...this.active.values()].map((l) => ({ id: l.id, label: l.label, blobs: l.blobs.size, layers: l.layers.size }));
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Not fsynced: after a power cut no process holds a lease. */
  private persist(lease: Lease): Promise<void> {
    return lease.writes.run(() =>
      replaceFile(
        this.file(lease.id),
        JSON.stringify({
          id: lease.id,
          label: lease.label,
          pid: self.pid,
          pidStart: self.start,
          created: lease.created,
          expiresAt: new Date(lease.expiresAt).toISOString(),
          blobs: [...lease.blobs],
          layers: [...lease.layers],
        }),
      ),
    );
  }
}

function parseLeaseFile(raw: string): z.infer<typeof LeaseFileSchema> | undefined {
  try {
    const r = LeaseFileSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
