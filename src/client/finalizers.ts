/**
 * Finalizers as their owners (the agent, the garbage collector, the GitSync controller) add and drop
 * them: a merge patch of metadata.finalizers guarded by the object's resourceVersion, so a write
 * based on a stale copy is a 409 conflict the work queue retries with the latest object.
 */
import { isNotFound, type KObject, type ResourceClient } from './api-client.js';

/** Adds (`present`) or drops `finalizer`; dropping it from an object already gone (a stale copy of a deleted one) is done. */
export async function setFinalizer(resource: ResourceClient, obj: KObject, finalizer: string, present: boolean, fieldManager: string): Promise<void> {
  const list = obj.metadata.finalizers ?? [];
  if (list.includes(finalizer) === present) return;
  const next = present ? [...list, finalizer] : list.filter((f) => f !== finalizer);
  try {
    await resource.patch(obj.metadata.namespace, obj.metadata.name, { metadata: { finalizers: next, resourceVersion: obj.metadata.resourceVersion } }, { fieldManager });
  } catch (err) {
    if (present || !isNotFound(err)) throw err;
  }
}
