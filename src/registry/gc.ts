/** Garbage collection of the registry's storage (`berth registry --gc`): mark and sweep of blobs. */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readDirOrEmpty } from '../runtime/index.js';
import { isDigest } from './names.js';
import type { RegistryStorage } from './storage.js';

export interface GcOptions {
  /** Blobs younger than this are kept (a push may be between its last blob and its manifest). Default 1 hour. */
  graceMs?: number;
  /** Also delete manifests no tag points at (distribution's --delete-untagged). */
  deleteUntagged?: boolean;
  /** Upload sessions untouched for longer than this are abandoned and purged first. Default: the storage's upload lifetime (1 hour). */
  uploadMaxAgeMs?: number;
}

export interface GcReport {
  blobsRemoved: string[];
  manifestsRemoved: Array<{ name: string; digest: string }>;
  uploadsPurged: string[];
  bytesFreed: number;
}

/**
 * Mark and sweep: keeps every blob a manifest revision references (the manifest itself, its
 * config and layers, an index's children), every blob linked into a repository with an upload
 * in progress, and every blob younger than the grace period; deletes the rest and their links.
 */
export async function collectGarbage(storage: RegistryStorage, opts: GcOptions = {}): Promise<GcReport> {
  const graceMs = opts.graceMs ?? 3_600_000;
  return storage.lock.run(async () => {
    const report: GcReport = { blobsRemoved: [], manifestsRemoved: [], uploadsPurged: [], bytesFreed: 0 };
    const keep = new Set<string>();
    const repos = await storage.allRepoDirs();
    report.uploadsPurged.push(...(await storage.sweepUploads(opts.uploadMaxAgeMs)));
    const uploads = await storage.uploadsInProgress();
    for (const name of repos) {
      const tagged = new Set<string>();
      for (const t of await storage.tags(name)) {
        const d = await storage.resolveTag(name, t);
        if (d) tagged.add(d);
      }
      const revs = await storage.revisions(name);
      const live = new Set(revs);
      if (opts.deleteUntagged) {
        // children of a tagged index stay, even untagged
        const reachable = new Set<string>();
        const visit = async (d: string): Promise<void> => {
          if (reachable.has(d) || !live.has(d)) return;
          reachable.add(d);
          const m = await storage.getManifest(name, d);
          for (const c of m ? childManifests(m.bytes) : []) await visit(c);
        };
        for (const d of tagged) await visit(d);
        for (const d of revs) {
          if (reachable.has(d)) continue;
          await rm(storage.revisionLink(name, d), { force: true });
          live.delete(d);
          report.manifestsRemoved.push({ name, digest: d });
        }
      }
      for (const d of live) {
        keep.add(d);
        const m = await storage.getManifest(name, d);
        if (m) for (const r of referencedBlobs(m.bytes)) keep.add(r);
      }
      if (uploads.has(name)) {
        for (const h of await readDirOrEmpty(join(storage.repoDir(name), '_layers'))) if (/^[a-f0-9]{64}$/.test(h)) keep.add(`sha256:${h}`);
      }
    }
    const now = Date.now();
    for (const d of await storage.blobs.list()) {
      if (keep.has(d)) continue;
      const st = await stat(storage.blobs.path(d)).catch(() => undefined);
      if (!st || now - st.mtimeMs < graceMs) continue;
      await storage.blobs.delete(d);
      report.blobsRemoved.push(d);
      report.bytesFreed += st.size;
    }
    const removed = new Set(report.blobsRemoved);
    for (const name of repos) {
      for (const h of await readDirOrEmpty(join(storage.repoDir(name), '_layers'))) {
        if (removed.has(`sha256:${h}`)) await rm(join(storage.repoDir(name), '_layers', h), { force: true });
      }
    }
    return report;
  });
}

function parseJson(bytes: Buffer): Record<string, unknown> {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function digestsOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((d) => (d && typeof d === 'object' ? (d as { digest?: unknown }).digest : undefined)).filter((d): d is string => typeof d === 'string' && isDigest(d));
}

export function childManifests(bytes: Buffer): string[] {
  return digestsOf(parseJson(bytes).manifests);
}

/** Blobs a manifest or index needs: config, layers, children, subject. */
export function referencedBlobs(bytes: Buffer): string[] {
  const m = parseJson(bytes);
  const out = [...digestsOf(m.layers), ...digestsOf(m.manifests), ...digestsOf(m.blobs)];
  const cfg = (m.config as { digest?: unknown } | undefined)?.digest;
  if (typeof cfg === 'string' && isDigest(cfg)) out.push(cfg);
  return out;
}
