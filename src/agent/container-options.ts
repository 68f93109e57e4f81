/** Turns a Container object into the runtime core's create options. */
import { join } from 'node:path';
import type { ContainerSpec } from '../api/container.js';
import { cpuMillis, quantityInt } from '../api/quantity.js';
import type { CreateOptions } from '../runtime/index.js';
import type { KObject } from '../client/api-client.js';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_SPEC_HASH, LABEL_UID, runtimeContainerName, runtimeVolumeName, specHash } from './names.js';

/** A spec the node cannot run as written; the message names the field. */
export class SpecError extends Error {}

export interface OptionsContext {
  /** Host directory of a runtime volume (for subPath mounts). */
  volumeMountpoint(runtimeName: string): string;
}

export function createOptionsFor(obj: KObject, ctx: OptionsContext): CreateOptions {
  const spec = obj.spec as unknown as ContainerSpec;
  const ns = obj.metadata.namespace ?? 'default';
  if (spec.network === 'bridge') throw new SpecError('spec.network: bridge networking is not implemented on this node yet; use none or host');
  const mounts: NonNullable<CreateOptions['mounts']> = [];
  for (const [i, m] of (spec.volumeMounts ?? []).entries()) {
    const readOnly = m.readOnly ?? false;
    if (m.hostPath) {
      mounts.push({ type: 'bind', source: m.subPath ? join(m.hostPath, m.subPath) : m.hostPath, target: m.mountPath, readOnly });
    } else if (m.name) {
      const vol = runtimeVolumeName(ns, m.name);
      if (m.subPath) mounts.push({ type: 'bind', source: join(ctx.volumeMountpoint(vol), m.subPath), target: m.mountPath, readOnly });
      else mounts.push({ type: 'volume', source: vol, target: m.mountPath, readOnly });
    } else {
      throw new SpecError(`spec.volumeMounts[${i}]: needs name or hostPath`);
    }
  }
  const limits = spec.resources?.limits;
  const resources: NonNullable<CreateOptions['resources']> = {};
  if (limits?.memory !== undefined) resources.memoryBytes = quantityInt(limits.memory);
  if (limits?.cpu !== undefined) resources.cpus = cpuMillis(limits.cpu) / 1000;
  if (limits?.pids !== undefined) resources.pids = quantityInt(limits.pids);
  if (resources.memoryBytes !== undefined && resources.memoryBytes < 6 * 1024 * 1024) {
    throw new SpecError('spec.resources.limits.memory: must be at least 6Mi');
  }
  return {
    name: runtimeContainerName(ns, obj.metadata.name),
    image: spec.image,
    ...(spec.command ? { command: spec.command } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    env: (spec.env ?? []).map((e) => `${e.name}=${e.value ?? ''}`),
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    hostname: spec.hostname ?? obj.metadata.name.slice(0, 63).replace(/\.+$/, ''),
    network: spec.network === 'host' ? 'host' : 'none',
    mounts,
    volumesFrom: (spec.volumesFrom ?? []).map((v) => {
      const [name, mode] = v.split(':');
      return { container: runtimeContainerName(ns, name ?? v), readOnly: mode === 'ro' };
    }),
    resources,
    readOnlyRootfs: spec.readOnlyRootFilesystem ?? false,
    labels: {
      [LABEL_UID]: obj.metadata.uid ?? '',
      [LABEL_NAMESPACE]: ns,
      [LABEL_NAME]: obj.metadata.name,
      [LABEL_SPEC_HASH]: specHash(obj.spec ?? {}),
    },
    ...(spec.tty ? { tty: true } : {}),
    ...(spec.stdin ? { stdin: true, stdinOnce: spec.stdinOnce === true } : {}),
    ...(spec.stopSignal ? { stopSignal: spec.stopSignal } : {}),
    stopTimeoutSeconds: spec.stopGracePeriodSeconds ?? 10,
  };
}
