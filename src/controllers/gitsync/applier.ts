/**
 * What a GitSync writes, and how errors become per-object reports: server-side dry runs of a whole
 * revision, server-side apply (field manager berth-gitsync, forced: git wins over hand edits) and
 * deletes with a uid precondition, a bounded number of requests in flight at once.
 */
import { ApiStatusError, isNotFound, type ApiClient, type KObject } from '../../client/api-client.js';
import { describeKey, type DesiredObject } from '../../client/gitops/render.js';
import type { InventoryEntry, SyncError } from '../../api/gitsync.js';
import { resourceTypeFor } from '../../client/kinds.js';

export const FIELD_MANAGER = 'berth-gitsync';

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The server's answer to a write of `d` as the errors of the report: one per cause (the field), else the message. */
export function errorsOf(d: Pick<DesiredObject, 'file' | 'document' | 'type' | 'object'>, err: unknown): SyncError[] {
  const object = describeKey(d);
  const base = { file: d.file, document: d.document, object };
  if (err instanceof ApiStatusError) {
    const causes = err.status.details?.causes ?? [];
    if (causes.length > 0) return causes.map((c) => ({ ...base, ...(c.field ? { field: c.field } : {}), message: c.message ?? err.message }));
    return [{ ...base, message: err.message }];
  }
  return [{ ...base, message: (err as Error)?.message ?? String(err) }];
}

export class Applier {
  constructor(
    private readonly client: ApiClient,
    private readonly concurrency = 16,
  ) {}

  /**
   * A server-side dry run of every object: nothing is written. Objects that go into a namespace
   * the revision itself creates are tried in `standIn` (an existing namespace) instead, since the
   * server cannot accept content for a namespace that does not exist yet.
   */
  async dryRun(objs: DesiredObject[], newNamespaces: Set<string>, standIn: string): Promise<{ errors: SyncError[]; results: Map<string, KObject> }> {
    const errors: SyncError[] = [];
    const results = new Map<string, KObject>();
    await pool(objs, this.concurrency, async (d) => {
      const ns = d.object.metadata.namespace;
      const moved = d.type.namespaced && ns !== undefined && newNamespaces.has(ns);
      const obj = moved ? { ...d.object, metadata: { ...d.object.metadata, namespace: standIn } } : d.object;
      try {
        const r = await this.client.resource(d.type).apply(obj, { fieldManager: FIELD_MANAGER, force: true, dryRun: true, fieldValidation: 'Strict' });
        if (!moved) results.set(d.key, r);
      } catch (err) {
        errors.push(...errorsOf(d, err));
      }
    });
    return { errors: sortErrors(errors), results };
  }

  /** Applies `objs` (one wave); the server's answers by key, and the errors. */
  async apply(objs: DesiredObject[]): Promise<{ applied: Map<string, KObject>; errors: SyncError[] }> {
    const applied = new Map<string, KObject>();
    const errors: SyncError[] = [];
    await pool(objs, this.concurrency, async (d) => {
      try {
        applied.set(d.key, await this.client.resource(d.type).apply(d.object, { fieldManager: FIELD_MANAGER, force: true, fieldValidation: 'Strict' }));
      } catch (err) {
        errors.push(...errorsOf(d, err));
      }
    });
    return { applied, errors: sortErrors(errors) };
  }

  /** Deletes one inventory entry, only if it is still the object with that uid; false when already gone. */
  async delete(e: InventoryEntry): Promise<boolean> {
    const type = resourceTypeFor(e.apiVersion, e.kind);
    if (!type) throw new Error(`${e.kind} of ${e.apiVersion} is no longer served`);
    try {
      await this.client.resource(type).delete(e.namespace, e.name, { propagationPolicy: 'Background', ...(e.uid ? { preconditions: { uid: e.uid } } : {}) });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

function sortErrors(errors: SyncError[]): SyncError[] {
  return errors.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.document ?? 0) - (b.document ?? 0) || (a.field ?? '').localeCompare(b.field ?? ''));
}
