/**
 * The Container reconciler: level-triggered and idempotent. Each call reads the object (from the
 * informer cache) and the runtime container it owns, makes one step towards spec, and writes what
 * it sees through the status subresource. Exits come back here through the runtime's exit events.
 */
import type { ContainerSpec, ContainerStatus } from '../api/container.js';
import type { KObject } from '../client/api-client.js';
import { RetryLater, type ReconcileResult as HandlerResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import { isoTime, jsonEqual } from '../client/json.js';
import type { BerthResources } from '../client/kinds.js';
import { createdState, RuntimeError, type ContainerRecord, type ContainerState, type Runtime } from '../runtime/index.js';
import { createOptionsFor, SpecError } from './container-options.js';
import { DeferredWrites } from './deferred-writes.js';
import type { EventRecorder, EventType } from './events.js';
import type { AgentMetrics } from './metrics.js';
import type { NetworkReconciler } from './network-reconciler.js';
import { CONTAINER_FINALIZER, LABEL_SPEC_HASH, LABEL_UID, runtimeContainerName, specHash, splitKey } from './names.js';
import { condition, normalise, setFinalizer, writeStatus } from './status.js';

const PLURAL = 'containers' as const;
const MAX_BACKOFF_S = 300;
/** A container that ran this long before exiting restarts without back-off (kubelet resets after 10 min). */
const BACKOFF_RESET_MS = 10 * 60_000;

export { RetryLater };

export interface ContainerReconcilerDeps {
  client: BerthResources;
  runtime: Runtime;
  nodeName: string;
  /** The node's networks: a Container's network create options come from there. */
  networks: Pick<NetworkReconciler, 'createOptions'>;
  containers: Informer;
  events: EventRecorder;
  metrics: AgentMetrics;
  /** A container released its volumes (deleted, or recreated without them). */
  onReleased(namespace: string): void;
}

/** Kubelet-style restart back-off: immediately the first time, then 10 s doubling up to 5 min. */
export function restartDelaySeconds(restartCount: number): number {
  if (restartCount <= 0) return 0;
  return Math.min(MAX_BACKOFF_S, 10 * 2 ** (restartCount - 1));
}

/**
 * A runtime message about networks or ports ("ports[0].hostPort: ...", "networks[1].ipv4Address: ...")
 * as the spec field it is about; on the default network "networks[0]" is spec.network.
 */
export function specField(spec: ContainerSpec, message: string): string {
  if (/^networks\[\d+\]/.test(message) && !(spec.networks?.length)) return message.replace(/^networks\[\d+\](\.\w+)?/, 'spec.network');
  return /^(networks|ports)\[\d+\]/.test(message) ? `spec.${message}` : message;
}

export function exitReason(s: ContainerState): string {
  if (s.oomKilled) return 'OOMKilled';
  return s.exitCode === 0 ? 'Completed' : 'Error';
}

/** How long a status this agent wrote is trusted over an informer copy that may not show it yet. */
const OWN_WRITE_TRUST_MS = 10_000;
/** A network that could not be joined or left is tried again after this. */
const NETWORK_RETRY_MS = 2000;
/** A writable layer's size is walked again after this (the 30 s resync refreshes it), not on every pass. */
const SIZE_TTL_MS = 20_000;

export class ContainerReconciler {
  /** Last status written per key: the informer cache may lag behind our own writes. */
  private readonly written = new Map<string, { uid: string; status: ContainerStatus; at: number }>();

  constructor(private readonly d: ContainerReconcilerDeps) {}

  async find(runtimeName: string): Promise<ContainerRecord | undefined> {
    try {
      return await this.d.runtime.containers.resolve(runtimeName);
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'NotFound') return undefined;
      throw e;
    }
  }

  /** Stops (after the grace period) and removes a runtime container with its writable layer. */
  private async destroy(rec: ContainerRecord, graceSeconds?: number): Promise<void> {
    this.writableSizes.delete(rec.id);
    const s = await this.d.runtime.tasks.state(rec.id);
    if (s.status === 'running' || s.status === 'paused') await this.d.runtime.tasks.stop(rec.id, graceSeconds ?? rec.stopTimeoutSeconds);
    await this.d.runtime.containers.remove(rec.id, { force: true, volumes: true });
  }

  async reconcile(key: string): Promise<HandlerResult | void> {
    const { namespace, name } = splitKey(key);
    const obj = this.d.containers.get(namespace, name);
    let rec = await this.find(runtimeContainerName(namespace, name));
    if (!obj || (obj.spec as ContainerSpec | undefined)?.nodeName !== this.d.nodeName) {
      // No object (or it moved away): the runtime container is an orphan.
      if (rec) await this.destroy(rec, 0);
      this.written.delete(key);
      return;
    }
    if (rec && rec.options.labels[LABEL_UID] !== obj.metadata.uid) {
      await this.destroy(rec, 0);
      rec = undefined;
    }
    const spec = obj.spec as unknown as ContainerSpec;
    if (obj.metadata.deletionTimestamp) {
      if (rec) {
        const s = await this.d.runtime.tasks.state(rec.id);
        if (s.status === 'running' || s.status === 'paused') this.d.events.record(obj, 'Normal', 'Killing', `Stopping container ${name}`);
        await this.destroy(rec, spec.stopGracePeriodSeconds);
      }
      await setFinalizer(this.d.client[PLURAL], obj, CONTAINER_FINALIZER, false);
      this.written.delete(key);
      this.d.onReleased(namespace);
      return;
    }
    // the finalizer patch and the events go out while runc starts the container, not before: no API round
    // trip before Running; a container made for an object deleted meanwhile is an orphan the next pass removes
    const later = new DeferredWrites();
    later.add(() => setFinalizer(this.d.client[PLURAL], obj, CONTAINER_FINALIZER, true));
    try {
      return await this.converge(obj, key, rec, later);
    } finally {
      await later.settle();
    }
  }

  /** Creates, starts, stops, pauses or restarts the runtime container towards spec, then writes status. */
  private async converge(obj: KObject, key: string, found: ContainerRecord | undefined, later: DeferredWrites): Promise<HandlerResult | void> {
    const { namespace, name } = splitKey(key);
    const event = (type: EventType, reason: string, message: string): void => later.add(() => this.d.events.record(obj, type, reason, message));
    const spec = obj.spec as unknown as ContainerSpec;
    let rec = found;
    const mine = this.written.get(key);
    const prev: ContainerStatus = mine && mine.uid === obj.metadata.uid ? mine.status : ((obj.status ?? {}) as ContainerStatus);
    let restartCount = prev.restartCount ?? 0;
    let justCreated = false;

    if (rec && rec.options.labels[LABEL_SPEC_HASH] !== specHash(obj.spec ?? {})) {
      event('Normal', 'Killing', `Container ${name} definition changed, will be recreated`);
      await this.destroy(rec, spec.stopGracePeriodSeconds);
      rec = undefined;
      this.d.onReleased(namespace);
    }

    if (!rec) {
      if (!(await this.d.runtime.images.exists(spec.image))) {
        await this.setStatus(obj, key, {
          phase: 'Pending',
          reason: 'ImagePullBackOff',
          message: `image "${spec.image}" is not present on node ${this.d.nodeName}; create an Image object with ref "${spec.image}" (spec.source.import or pull) to make it present`,
          restartCount,
          conditions: [condition(prev.conditions, { type: 'Ready', status: 'False', reason: 'ImagePullBackOff' })],
        });
        event('Warning', 'Failed', `Failed to pull image "${spec.image}": not present on node ${this.d.nodeName}`);
        throw new RetryLater(`image ${spec.image} not present`);
      }
      try {
        const opts = { ...createOptionsFor(obj, { volumeMountpoint: (v) => this.d.runtime.volumes.mountpoint(v) }), ...(await this.d.networks.createOptions(obj)) };
        event('Normal', 'Pulled', `Container image "${spec.image}" already present on machine`);
        rec = await this.d.runtime.containers.create(opts);
      } catch (e) {
        const reason = e instanceof SpecError || (e instanceof RuntimeError && e.code === 'Invalid') ? 'CreateContainerConfigError' : 'CreateContainerError';
        const message = specField(spec, (e as Error).message);
        await this.setStatus(obj, key, {
          phase: 'Failed',
          reason,
          message,
          restartCount,
          conditions: [condition(prev.conditions, { type: 'Ready', status: 'False', reason })],
        });
        event('Warning', 'Failed', `Error: ${message}`);
        throw new RetryLater(message);
      }
      event('Normal', 'Created', `Created container ${name}`);
      justCreated = true;
    }

    // networks after the first joined or left in place (docker network connect/disconnect); a failure is
    // reported in the status and tried again, without holding up the rest of this pass
    let networkError: string | undefined;
    if (!justCreated && rec.options.network === 'bridge' && ((spec.networks?.length ?? 0) > 1 || rec.options.networks.length > 1)) {
      const r = await this.updateNetworks(obj, rec);
      rec = r.rec;
      networkError = r.error;
    }

    const rt = this.d.runtime.tasks;
    let s = justCreated ? createdState() : await rt.state(rec.id);
    // measured alongside start, stop or pause rather than after them: the status is not held back by a tree walk
    const sizes = this.sizes(rec);
    let reasonOverride: { reason: string; message?: string } | undefined;
    let requeueAfterMs: number | undefined;

    const start = async (): Promise<void> => {
      try {
        s = await rt.start(rec.id, { onLaunched: () => later.flush() });
      } catch (e) {
        const message = specField(spec, (e as Error).message);
        // a published port taken on the node, an address taken on a network: the reason says which
        const reason = /\.hostPort: .* already in use/.test(message) ? 'PortInUse' : /^spec\.(networks?|ports)\b/.test(message) ? 'NetworkError' : 'StartError';
        await this.setStatus(obj, key, {
          ...this.base(obj, rec, restartCount),
          phase: 'Failed',
          reason,
          message,
          conditions: [condition(prev.conditions, { type: 'Ready', status: 'False', reason })],
        });
        event('Warning', 'Failed', `Error: ${message}`);
        throw new RetryLater(message);
      }
      event('Normal', 'Started', `Started container ${name}`);
      const created = isoTime(obj.metadata.creationTimestamp);
      if (restartCount === 0 && created && !prev.startedAt) this.d.metrics.startLatency.observe((Date.now() - Date.parse(created)) / 1000);
    };

    if (spec.state === 'Stopped') {
      if (s.status === 'running' || s.status === 'paused') {
        event('Normal', 'Killing', `Stopping container ${name}`);
        s = await rt.stop(rec.id, spec.stopGracePeriodSeconds);
      }
      reasonOverride = { reason: 'Stopped', message: 'spec.state is Stopped' };
    } else {
      if (s.status === 'paused' && spec.state === 'Running') {
        await rt.unpause(rec.id);
        s = await rt.state(rec.id);
      }
      if (s.status === 'created') await start();
      else if (s.status === 'exited') {
        const policy = spec.restartPolicy ?? 'Always';
        const stoppedByUs = prev.reason === 'Stopped';
        const wantRestart = policy === 'Always' || (policy === 'OnFailure' && s.exitCode !== 0);
        if (stoppedByUs) await start();
        else if (wantRestart) {
          const ran = Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '');
          const delayS = ran >= BACKOFF_RESET_MS ? 0 : restartDelaySeconds(restartCount);
          const wait = Date.parse(s.finishedAt ?? new Date().toISOString()) + delayS * 1000 - Date.now();
          if (wait > 0) {
            reasonOverride = { reason: 'CrashLoopBackOff', message: `back-off ${delayS}s restarting failed container ${name}` };
            if (prev.reason !== 'CrashLoopBackOff') event('Warning', 'BackOff', `Back-off restarting failed container ${name}`);
            requeueAfterMs = wait;
          } else {
            restartCount++;
            await start();
          }
        }
      }
      if (s.status === 'running' && spec.state === 'Paused') {
        await rt.pause(rec.id);
        s = await rt.state(rec.id);
      }
    }

    // an exit that is not followed by a restart gives its addresses and ports back, as Docker does
    if (s.status === 'exited' && requeueAfterMs === undefined && rec.options.network === 'bridge' && (await this.d.runtime.networks.attachment(rec.id))) {
      s = await rt.stop(rec.id, 0);
    }
    const status = this.statusFrom(obj, rec, s, restartCount, prev, reasonOverride);
    Object.assign(status, await sizes, await this.networkStatus(rec, s));
    if (networkError !== undefined) {
      Object.assign(status, { reason: 'NetworkError', message: networkError });
      requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, NETWORK_RETRY_MS);
    }
    await this.setStatus(obj, key, status);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** Makes the runtime container's networks after the first what the spec says; a failure comes back as `error`. */
  private async updateNetworks(obj: KObject, rec: ContainerRecord): Promise<{ rec: ContainerRecord; error?: string }> {
    const spec = obj.spec as unknown as ContainerSpec;
    try {
      const want = (await this.d.networks.createOptions(obj)).networks ?? [];
      const have = rec.options.networks;
      if (jsonEqual(want.map((n) => [n.name, n.aliases, n.ipv4Address ?? null]), have.map((n) => [n.name, n.aliases, n.ipv4Address ?? null]))) return { rec };
      return { rec: await this.d.runtime.containers.updateNetworks(rec.id, want) };
    } catch (e) {
      return { rec: (await this.find(rec.id)) ?? rec, error: specField(spec, (e as Error).message) };
    }
  }

  /** status.ip, status.networks and status.ports while the container is attached. */
  private async networkStatus(rec: ContainerRecord, s: ContainerState): Promise<Partial<ContainerStatus>> {
    if (rec.options.network !== 'bridge' || (s.status !== 'running' && s.status !== 'paused')) return {};
    const att = await this.d.runtime.networks.attachment(rec.id);
    if (!att || att.state !== 'ready') return {};
    const toApi = (n: string): string => (n.includes('_') ? n.slice(n.indexOf('_') + 1) : n);
    const out: Partial<ContainerStatus> = {
      networks: att.networks.map((n) => ({
        name: toApi(n.name),
        ...(n.ip ? { ipAddress: n.ip } : {}),
        ...(n.prefix !== undefined ? { prefixLength: n.prefix } : {}),
        ...(n.gateway ? { gateway: n.gateway } : {}),
        ...(n.mac ? { macAddress: n.mac } : {}),
        interface: n.ifName,
      })),
    };
    if (att.networks[0]?.ip) out.ip = att.networks[0].ip;
    if (att.ports.length > 0) out.ports = att.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol === 'udp' ? 'UDP' : 'TCP', hostIP: p.hostIP ?? '0.0.0.0', hostPort: p.hostPort }));
    return out;
  }

  /** Layers never change, so their sizes are measured once. */
  private readonly layerSizes = new Map<string, number>();
  private readonly writableSizes = new Map<string, { bytes: number; at: number }>();

  /** docker ps -s: the writable layer, and that plus the image's layers. */
  private async sizes(rec: ContainerRecord): Promise<{ sizeRw: number; sizeRootFs: number }> {
    const snaps = this.d.runtime.snapshots;
    let rw = this.writableSizes.get(rec.id);
    if (!rw || Date.now() - rw.at >= SIZE_TTL_MS) {
      rw = { bytes: await snaps.writableSize(rec.id).catch(() => 0), at: Date.now() };
      this.writableSizes.set(rec.id, rw);
    }
    const sizeRw = rw.bytes;
    let image = 0;
    for (const d of rec.diffIDs) {
      let n = this.layerSizes.get(d);
      if (n === undefined) {
        n = await snaps.layerSize(d).catch(() => 0);
        this.layerSizes.set(d, n);
      }
      image += n;
    }
    return { sizeRw, sizeRootFs: sizeRw + image };
  }

  private base(obj: KObject, rec: ContainerRecord, restartCount: number): ContainerStatus {
    return { containerID: rec.id, imageID: rec.imageId, restartCount, observedGeneration: obj.metadata.generation };
  }

  private statusFrom(obj: KObject, rec: ContainerRecord, s: ContainerState, restartCount: number, prev: ContainerStatus, override?: { reason: string; message?: string }): ContainerStatus {
    const out: ContainerStatus = this.base(obj, rec, restartCount);
    if (s.startedAt) out.startedAt = s.startedAt;
    if (s.status === 'running') {
      out.phase = 'Running';
      out.pid = s.pid;
      out.conditions = [condition(prev.conditions, { type: 'Ready', status: 'True', reason: 'Running' })];
      return out;
    }
    if (s.status === 'paused') {
      out.phase = 'Paused';
      out.pid = s.pid;
      out.conditions = [condition(prev.conditions, { type: 'Ready', status: 'False', reason: 'Paused' })];
      return out;
    }
    if (s.status === 'created') {
      out.phase = override ? 'Exited' : 'Creating';
      if (override) out.reason = override.reason;
      out.conditions = [condition(prev.conditions, { type: 'Ready', status: 'False', reason: override?.reason ?? 'Created' })];
      return out;
    }
    out.phase = 'Exited';
    if (s.finishedAt) out.finishedAt = s.finishedAt;
    // The runtime stamps startedAt after `runc start` returns; a very short process may finish before that.
    if (out.startedAt && out.finishedAt && out.startedAt > out.finishedAt) out.startedAt = out.finishedAt;
    if (s.exitCode !== undefined) out.exitCode = s.exitCode;
    out.reason = override?.reason ?? exitReason(s);
    const message = override?.message ?? s.error;
    if (message) out.message = message;
    out.conditions = [condition(prev.conditions, { type: 'Ready', status: 'False', reason: out.reason })];
    return out;
  }

  private async setStatus(obj: KObject, key: string, status: ContainerStatus): Promise<void> {
    if (status.observedGeneration === undefined && obj.metadata.generation !== undefined) status.observedGeneration = obj.metadata.generation;
    const mine = this.written.get(key);
    // An event for a write that crossed ours (our own finalizer patch) still shows the status before ours: the
    // same status again moments later is not written twice. Past that, the object's own status is compared,
    // so a status changed by someone else is put right at the latest on the next resync.
    const fresh = mine && mine.uid === obj.metadata.uid && Date.now() - mine.at < OWN_WRITE_TRUST_MS && jsonEqual(mine.status, status);
    if (!fresh) await writeStatus(this.d.client[PLURAL], obj, status as Record<string, unknown>, mine && mine.uid === obj.metadata.uid ? (mine.status as Record<string, unknown>) : undefined);
    this.written.set(key, { uid: obj.metadata.uid ?? '', status, at: fresh ? mine.at : Date.now() });
  }

  forget(key: string): void {
    this.written.delete(key);
  }

  /**
   * Whether an update only brings back the status this agent wrote last (the watch event of its own write):
   * same object, same generation, not being deleted. Such an update needs no reconcile; any other change
   * of status (the node lifecycle controller's Unknown, say) still gets one.
   */
  isOwnStatusEcho(key: string, obj: KObject): boolean {
    const mine = this.written.get(key);
    return (
      mine !== undefined &&
      mine.uid === obj.metadata.uid &&
      !obj.metadata.deletionTimestamp &&
      mine.status.observedGeneration === obj.metadata.generation &&
      jsonEqual(normalise(obj.status ?? {}), mine.status)
    );
  }
}
