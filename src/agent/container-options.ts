/** Turns a Container object into the runtime core's create options. */
import type { ContainerSpec } from '../api/container.js';
import { cpuMillis, quantityInt } from '../api/quantity.js';
import type { CreateOptions } from '../runtime/index.js';
import type { KObject } from '../client/api-client.js';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_SPEC_HASH, LABEL_UID, runtimeContainerName, runtimeVolumeName, specHash } from './names.js';

/** A spec the node cannot run as written; the message names the field. */
export class SpecError extends Error {}

export interface OptionsContext {
  /** Host directory of a runtime volume. */
  volumeMountpoint(runtimeName: string): string;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Docker's max-size (10m, 500k, 1g: 1024-based, as docker's units.RAMInBytes) or Kubernetes' 10Mi, in bytes. */
export function logSizeBytes(size: string): number {
  const m = /^([1-9][0-9]*)([kmgKMG]?)(i|[bB])?$/.exec(size);
  if (!m) throw new SpecError(`spec.logging.maxSize: "${size}" is not a size such as 10m`);
  const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
  if (bytes < 4096) throw new SpecError('spec.logging.maxSize: must be at least 4k');
  return bytes;
}

export function createOptionsFor(obj: KObject, _ctx?: OptionsContext): CreateOptions {
  const spec = obj.spec as unknown as ContainerSpec;
  const ns = obj.metadata.namespace ?? 'default';
  const mounts: NonNullable<CreateOptions['mounts']> = [];
  for (const [i, m] of (spec.volumeMounts ?? []).entries()) {
    const readOnly = m.readOnly ?? false;
    // a subPath is resolved by the runtime below the volume or host path, refusing symlinks on the way
    const subPath = m.subPath ? { subPath: m.subPath } : {};
    if (m.hostPath) {
      mounts.push({ type: 'bind', source: m.hostPath, target: m.mountPath, readOnly, ...subPath });
    } else if (m.name) {
      mounts.push({ type: 'volume', source: runtimeVolumeName(ns, m.name), target: m.mountPath, readOnly, ...subPath });
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
    // bridge and container:NAME need the node's networks: the network reconciler fills them in
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
    security: {
      capAdd: spec.capAdd ?? [],
      capDrop: spec.capDrop ?? [],
      privileged: spec.privileged ?? false,
      seccomp: spec.seccompProfile === 'Unconfined' ? 'unconfined' : 'default',
      runAsNonRoot: spec.runAsNonRoot ?? false,
    },
    log: {
      ...(spec.logging?.maxSize !== undefined ? { maxSizeBytes: logSizeBytes(spec.logging.maxSize) } : {}),
      ...(spec.logging?.maxFile !== undefined ? { maxFiles: spec.logging.maxFile } : {}),
    },
  };
}
