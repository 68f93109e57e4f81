/** Helpers shared by the reconcilers for conditions and status patches. */
import type { KObject, ResourceClient } from '../client/api-client.js';
import { setFinalizer as setFinalizerAs } from '../client/finalizers.js';
import { isoTime, jsonEqual, mergePatchFor } from '../client/json.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** A condition that keeps its lastTransitionTime while its status does not change. */
export function condition(prev: unknown, c: Omit<Condition, 'lastTransitionTime'>): Condition {
  const list = Array.isArray(prev) ? (prev as Condition[]) : [];
  const old = list.find((x) => x.type === c.type);
  const out: Condition = { type: c.type, status: c.status };
  if (c.reason) out.reason = c.reason;
  if (c.message) out.message = c.message;
  out.lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? isoTime(old.lastTransitionTime) : new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return out;
}

/**
 * Writes status through the status subresource when it differs from what the object carries. The
 * informer's copy may not show this agent's last write yet (`lastWritten`): a field that write set
 * and `desired` lacks is removed too, or a stale copy would leave it behind (a pid after an exit).
 */
export async function writeStatus(resource: ResourceClient, obj: KObject, desired: Record<string, unknown>, lastWritten?: Record<string, unknown>): Promise<boolean> {
  const current = normalise(obj.status ?? {});
  if (jsonEqual(current, desired)) return false;
  const base = lastWritten ? { ...normalise(lastWritten), ...current } : current;
  await resource.patchStatus(obj.metadata.namespace, obj.metadata.name, mergePatchFor(base, desired), { fieldManager: 'berth-agent' });
  return true;
}

/** client-node turns date-time strings into Dates in some paths; compare as strings. */
export function normalise(v: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
}

/** The agent's finalizers (client/finalizers.ts) under its field manager. */
export function setFinalizer(resource: ResourceClient, obj: KObject, finalizer: string, present: boolean): Promise<void> {
  return setFinalizerAs(resource, obj, finalizer, present, 'berth-agent');
}
