import { join } from 'node:path';
import { z } from 'zod';
import type { ContentStore } from '../content/store.js';
import type { SnapshotStore } from '../snapshots/store.js';
import { isDigest, sha256Of } from '../util/digest.js';
import { conflict, invalid, notFound } from '../util/errors.js';
import { atomicWriteJson } from '../util/fs.js';
import { FileLock } from '../util/file-lock.js';
import { ParsedFileCache } from '../util/parsed-file-cache.js';
import { normaliseTaggedName } from './reference.js';
import { ImageConfigSchema, MEDIA, ManifestSchema, type Descriptor, type HistoryEntry, type ImageConfig, type Manifest } from './schema.js';

const ImageRecordSchema = z.object({
  id: z.string(),
  manifestDigest: z.string(),
  /** When this image arrived in the store. */
  added: z.string(),
  parent: z.string().optional(),
});
export type ImageRecord = z.infer<typeof ImageRecordSchema>;

const DbSchema = z.object({
  images: z.record(z.string(), ImageRecordSchema),
  refs: z.record(z.string(), z.string()),
});
type Db = z.infer<typeof DbSchema>;

export interface ContainerUse {
  id: string;
  running: boolean;
}
/** How the image store learns which containers use an image (wired by the Runtime; images know nothing of containers). */
export type ImageUsage = (imageId: string) => Promise<ContainerUse[]>;

export interface LayerInput {
  descriptor: Descriptor;
  diffID: string;
}

export interface ImageSummary {
  id: string;
  repoTags: string[];
  created: string | undefined;
  size: number;
  dangling: boolean;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  Parent: string;
  Created: string | undefined;
  Author: string;
  Architecture: string;
  Os: string;
  Size: number;
  Config: {
    Env: string[];
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    WorkingDir: string;
    User: string;
    ExposedPorts: Record<string, object>;
    Volumes: Record<string, object>;
    Labels: Record<string, string>;
    StopSignal?: string;
    OnBuild?: string[];
  };
  RootFS: { Type: 'layers'; Layers: string[] };
  ManifestDigest: string;
}

export interface HistoryItem {
  id: string;
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
  author: string;
  emptyLayer: boolean;
}

export type RemoveReport = Array<{ untagged: string } | { deleted: string }>;

/** Image names, manifests and configs (content in the ContentStore, layers in the SnapshotStore). */
export class ImageStore {
  private readonly dbPath: string;
  /**
   * Guards read-modify-write of the db across processes too. Only the agent writes a node's runtime
   * root; this lock is the guard that keeps a second writer (a CLI verb on the same root) from losing
   * an update instead of the design relying on it never happening.
   */
  private readonly dbLock: FileLock;
  private readonly configs = new Map<string, ImageConfig>();
  /** The names and records, read on every create: parsed once per version of the file. */
  private readonly dbCache = new ParsedFileCache((raw) => DbSchema.parse(raw), 1);
  private usage: ImageUsage = async () => [];
  private onRemoved: () => void = () => undefined;

  constructor(
    root: string,
    readonly content: ContentStore,
    readonly snapshots: SnapshotStore,
  ) {
    this.dbPath = join(root, 'images', 'db.json');
    this.dbLock = new FileLock(join(root, 'images', 'db.lock'), { parents: true });
  }

  setUsage(usage: ImageUsage): void {
    this.usage = usage;
  }

  /** Called once images were deleted (their blobs and layers may now be garbage). */
  setOnRemoved(fn: () => void): void {
    this.onRemoved = fn;
  }

  /**
   * Runs `fn` in a lease of this store's root (the running one, if any): the blobs and layers it writes or
   * finds are kept from the garbage collector until it ends. Without a lease manager, just runs `fn`.
   */
  withLease<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return this.content.leases ? this.content.leases.withLease(label, fn) : fn();
  }

  /** The db as it is on disk, shared with other readers: read-only. */
  private async load(): Promise<Readonly<Db>> {
    return (await this.dbCache.read(this.dbPath)) ?? { images: {}, refs: {} };
  }

  private update<T>(fn: (db: Db) => T | Promise<T>): Promise<T> {
    return this.dbLock.run(async () => {
      // a private copy to change: what load() gives is shared with readers
      const db = structuredClone(await this.load()) as Db;
      const out = await fn(db);
      this.dbCache.forget(this.dbPath);
      await atomicWriteJson(this.dbPath, db);
      return out;
    });
  }

  /**
   * Stores config + manifest for already-ingested layer blobs, unpacks layers, and names the image. Returns the
   * image ID. In a lease, so that nothing it stores is collected before the image names it.
   */
  addImage(configBytes: Uint8Array, layers: readonly LayerInput[], opts: { names?: string[]; parent?: string; manifestBytes?: Uint8Array } = {}): Promise<string> {
    return this.withLease('image', () => this.addImageLeased(configBytes, layers, opts));
  }

  private async addImageLeased(configBytes: Uint8Array, layers: readonly LayerInput[], opts: { names?: string[]; parent?: string; manifestBytes?: Uint8Array }): Promise<string> {
    const config = ImageConfigSchema.parse(JSON.parse(Buffer.from(configBytes).toString('utf8')));
    if (config.rootfs.diff_ids.length !== layers.length) {
      throw invalid(`image config lists ${config.rootfs.diff_ids.length} layers but ${layers.length} were given`);
    }
    layers.forEach((l, i) => {
      if (config.rootfs.diff_ids[i] !== l.diffID) throw invalid(`layer ${i}: diffID ${l.diffID} does not match config ${config.rootfs.diff_ids[i]}`);
    });
    for (const l of layers) await this.snapshots.ensureLayer(l.diffID, this.content.path(l.descriptor.digest));
    const configDigest = await this.content.putBuffer(configBytes);
    let manifestBytes = opts.manifestBytes;
    if (!manifestBytes) {
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
        layers: layers.map((l) => l.descriptor),
      };
      manifestBytes = Buffer.from(JSON.stringify(manifest));
    }
    const manifestDigest = await this.content.putBuffer(manifestBytes);
    const names = (opts.names ?? []).map((n) => normaliseTaggedName(n, 'name'));
    await this.update((db) => {
      db.images[configDigest] ??= { id: configDigest, manifestDigest, added: new Date().toISOString(), parent: opts.parent };
      for (const n of names) db.refs[n] = configDigest;
    });
    return configDigest;
  }

  /** Finds an image by name[:tag], full ID, hex ID or unique ID prefix. */
  async resolve(ref: string): Promise<ImageRecord> {
    const db = await this.load();
    return this.resolveIn(db, ref);
  }

  private resolveIn(db: Db, ref: string): ImageRecord {
    const byId = db.images[ref] ?? db.images[`sha256:${ref}`];
    if (byId) return byId;
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const matches = Object.keys(db.images).filter((id) => id.slice(7).startsWith(hex));
      if (matches.length > 1) throw conflict(`image ID prefix "${ref}" is ambiguous`);
      if (matches.length === 1) return db.images[matches[0] as string] as ImageRecord;
    }
    let name: string | undefined;
    try {
      name = normaliseTaggedName(ref);
    } catch {
      throw notFound(`image "${ref}" not found`);
    }
    const id = db.refs[name];
    const rec = id ? db.images[id] : undefined;
    if (!rec) throw notFound(`image "${ref}" not found`);
    return rec;
  }

  async exists(ref: string): Promise<boolean> {
    try {
      await this.resolve(ref);
      return true;
    } catch {
      return false;
    }
  }

  /** An image's config; by ID, so the parsed form is kept (content-addressed: it never changes). */
  async config(ref: string): Promise<ImageConfig> {
    const rec = await this.resolve(ref);
    let cfg = this.configs.get(rec.id);
    if (!cfg) {
      cfg = ImageConfigSchema.parse(await this.content.readJson(rec.id));
      if (this.configs.size >= 256) this.configs.clear();
      this.configs.set(rec.id, cfg);
    }
    return structuredClone(cfg);
  }

  async manifest(ref: string): Promise<Manifest> {
    const rec = await this.resolve(ref);
    return ManifestSchema.parse(await this.content.readJson(rec.manifestDigest));
  }

  async namesOf(id: string): Promise<string[]> {
    const db = await this.load();
    return Object.entries(db.refs)
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
  }

  async tag(source: string, target: string): Promise<void> {
    const name = normaliseTaggedName(target, 'target');
    await this.update((db) => {
      db.refs[name] = this.resolveIn(db, source).id;
    });
  }

  /** Unpacked size of an image: the sum of its layers. */
  async size(ref: string): Promise<number> {
    const cfg = await this.config(ref);
    let total = 0;
    for (const d of cfg.rootfs.diff_ids) total += await this.snapshots.layerSize(d);
    return total;
  }

  async list(opts: { dangling?: boolean } = {}): Promise<ImageSummary[]> {
    const db = await this.load();
    const out: ImageSummary[] = [];
    for (const rec of Object.values(db.images)) {
      const repoTags = Object.entries(db.refs).filter(([, v]) => v === rec.id).map(([k]) => k).sort();
      const dangling = repoTags.length === 0;
      if (opts.dangling !== undefined && opts.dangling !== dangling) continue;
      const cfg = ImageConfigSchema.parse(await this.content.readJson(rec.id));
      out.push({ id: rec.id, repoTags, created: cfg.created, size: await this.size(rec.id), dangling });
    }
    return out.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  }

  async inspect(ref: string): Promise<ImageInspect> {
    const rec = await this.resolve(ref);
    const cfg = await this.config(rec.id);
    const c = cfg.config ?? {};
    return {
      Id: rec.id,
      RepoTags: await this.namesOf(rec.id),
      Parent: rec.parent ?? '',
      Created: cfg.created,
      Author: cfg.author ?? '',
      Architecture: cfg.architecture,
      Os: cfg.os,
      Size: await this.size(rec.id),
      Config: {
        Env: c.Env ?? [],
        Entrypoint: c.Entrypoint ?? null,
        Cmd: c.Cmd ?? null,
        WorkingDir: c.WorkingDir ?? '',
        User: c.User ?? '',
        ExposedPorts: c.ExposedPorts ?? {},
        Volumes: c.Volumes ?? {},
        Labels: c.Labels ?? {},
        ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
        ...(Array.isArray(c.OnBuild) && c.OnBuild.length ? { OnBuild: c.OnBuild as string[] } : {}),
      },
      RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
      ManifestDigest: rec.manifestDigest,
    };
  }

  /** Newest first, like `docker history`: one row per history entry, sized by its layer. */
  async history(ref: string): Promise<HistoryItem[]> {
    const rec = await this.resolve(ref);
    const cfg = await this.config(rec.id);
    const hist: HistoryEntry[] = cfg.history?.length ? cfg.history : cfg.rootfs.diff_ids.map(() => ({}));
    let layer = 0;
    const rows: HistoryItem[] = [];
    for (const h of hist) {
      const empty = h.empty_layer === true;
      const diffID = empty ? undefined : cfg.rootfs.diff_ids[layer++];
      rows.push({
        id: '<missing>',
        created: h.created,
        createdBy: h.created_by ?? '',
        size: diffID ? await this.snapshots.layerSize(diffID) : 0,
        comment: h.comment ?? '',
        author: h.author ?? '',
        emptyLayer: empty,
      });
    }
    rows.reverse();
    if (rows[0]) rows[0].id = rec.id;
    return rows;
  }

  /**
   * Docker's rmi: a name with other names left is only untagged; the last name (or an ID)
   * deletes the image. Refused while containers use it unless forced; a running container's
   * image is never deleted (forced removal only untags it).
   */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<RemoveReport> {
    const db0 = await this.load();
    const rec = this.resolveIn(db0, ref);
    const users = await this.usage(rec.id);
    const out = await this.update((db) => {
      const names = Object.keys(db.refs).filter((k) => db.refs[k] === rec.id);
      const byName = !isDigest(ref) && !/^[a-f0-9]{4,64}$/.test(ref) && names.includes(normaliseTaggedName(ref));
      const report: RemoveReport = [];
      if (byName && names.length > 1) {
        const n = normaliseTaggedName(ref);
        delete db.refs[n];
        return [{ untagged: n }];
      }
      if (!byName && names.length > 1 && !opts.force) {
        throw conflict(`unable to delete ${rec.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
      }
      if (users.length && !opts.force) {
        throw conflict(`unable to remove image ${ref}: image is being used by container ${users[0]?.id.slice(0, 12)}`);
      }
      for (const n of names) {
        delete db.refs[n];
        report.push({ untagged: n });
      }
      if (users.some((u) => u.running)) return report;
      delete db.images[rec.id];
      report.push({ deleted: rec.id });
      return report;
    });
    if (out.some((r) => 'deleted' in r)) this.onRemoved();
    return out;
  }

  /** Removes dangling images (or, with all, every image no container uses). */
  async prune(opts: { all?: boolean } = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const img of await this.list()) {
      if (!img.dangling && !opts.all) continue;
      if ((await this.usage(img.id)).length) continue;
      await this.update((db) => {
        for (const n of Object.keys(db.refs)) if (db.refs[n] === img.id) delete db.refs[n];
        delete db.images[img.id];
      });
      removed.push(img.id);
    }
    if (removed.length) this.onRemoved();
    return removed;
  }

  async ids(): Promise<string[]> {
    return Object.keys((await this.load()).images);
  }

  /** Every blob digest the stored images reference (manifests, configs, layers). */
  async referencedBlobs(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const rec of Object.values((await this.load()).images)) {
      out.add(rec.manifestDigest).add(rec.id);
      const m = ManifestSchema.parse(await this.content.readJson(rec.manifestDigest));
      for (const l of m.layers) out.add(l.digest);
    }
    return out;
  }

  async referencedLayers(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const id of await this.ids()) for (const d of (await this.config(id)).rootfs.diff_ids) out.add(d);
    return out;
  }
}

export const configDigestOf = (bytes: Uint8Array): string => sha256Of(bytes);
