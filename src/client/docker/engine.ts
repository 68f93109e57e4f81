/**
 * Docker's container verbs as writes to Container objects and waits on what the node reports: the
 * engine both fronts drive (`berth run/start/stop/...` and the Docker Engine API socket). Nothing
 * here touches a runtime: create, start, stop, pause are spec changes the agent carries out; kill
 * goes through the Container's kill subresource; rm is a deletion the agent's finalizer completes.
 * A create that fails on the node is rolled back, so a failed `run` leaves no object behind.
 */
import { isConflict, isNotFound, type ApiClient, type KObject, type ResourceClient } from '../api-client.js';
import { ContainerType, NetworkType, VolumeType } from '../kinds.js';
import type { CreateBody } from './create-body.js';
import { ANNOTATION_ANONYMOUS_FOR, ANNOTATION_DOCKER_NAME, checkDockerName, conflict, DockerError, dockerIdOf, dockerNameOf, notFound, objectNameFor, randomName, type CreatedBy } from './names.js';
import { planContainer } from './to-container.js';
import { watchUntil } from './watch-until.js';

export interface EngineOptions {
  client: ApiClient;
  namespace: string;
  createdBy: CreatedBy;
  /** The node new containers and volumes go to (the Docker front's node, or the one the CLI chose). */
  nodeName?: string;
  /** How long to wait for the node to act on a change (default 120 s). */
  nodeTimeoutMs?: number;
  /** Sends a signal through the Container's kill subresource (docker kill; rm -f kills first). */
  kill?: (obj: KObject, signal: string) => Promise<void>;
  /** Timing of each step, for diagnosis (BERTH_DOCKER_API_TRACE=1 on the Docker front). */
  trace?: (msg: string) => void;
  /** Checks that an image is on the node (the node image API): a create of a missing one is Docker's 404. */
  imageExists?: (ref: string) => Promise<boolean>;
  /** The image's ports (its EXPOSE), which -P (PublishAllPorts) publishes with the create's own. */
  imageExposedPorts?: (ref: string) => Promise<Record<string, unknown> | undefined>;
}

type Status = { phase?: string; reason?: string; message?: string; exitCode?: number; finishedAt?: string; startedAt?: string; containerID?: string; observedGeneration?: number; restartCount?: number };
const statusOf = (o: KObject | undefined): Status => (o?.status ?? {}) as Status;
const specOf = (o: KObject): { state?: string; restartPolicy?: string; nodeName?: string; stopGracePeriodSeconds?: number } => (o.spec ?? {}) as never;

/** Docker's exit code for a process that could not be started: 127 not found, 126 not executable. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory|not found in \$PATH/i.test(message)) return 127;
  if (/permission denied|is a directory|exec format error|cannot execute/i.test(message)) return 126;
  return 125;
}

/** runc's logrus line inside a runtime error, as docker shows it: failed to create task for container: ...: exec: "x": ... */
export function runtimeMessage(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(message);
  const inner = m ? m[1]!.replace(/\\"/g, '"') : message.replace(/^container [0-9a-f]{64}: /, '');
  return `failed to create task for container: OCI runtime create failed: ${inner.replace(/^runc create failed: /, 'runc create failed: ')}: unknown`;
}

export function isRunning(o: KObject): boolean {
  const p = statusOf(o).phase;
  return p === 'Running' || p === 'Paused';
}

/**
 * Resolves once `c` no longer runs the process it ran when read (gone, replaced, stopped, or started
 * again), or after `timeoutMs`: where dockerd ends `logs -f`, so `docker logs -f X && docker rm X`
 * works although the log ends a moment before the node's status says the process did.
 */
export async function untilProcessEnded(rc: ResourceClient, c: KObject, timeoutMs = 10_000): Promise<void> {
  const startedAt = statusOf(c).startedAt;
  const ended = (o: KObject | undefined) => (!o || o.metadata.uid !== c.metadata.uid || !isRunning(o) || statusOf(o).startedAt !== startedAt ? true : undefined);
  await watchUntil(rc, c.metadata.namespace ?? '', c.metadata.name, ended, { timeoutMs }).catch(() => undefined);
}

/** A container that was created but never started (docker create, or a failed start). */
export function neverStarted(o: KObject): boolean {
  const s = statusOf(o);
  return !s.startedAt && !s.finishedAt;
}

export interface WaitResult {
  StatusCode: number;
  Error?: { Message: string } | null;
}

export class DockerEngine {
  readonly containers: ResourceClient;
  readonly volumes: ResourceClient;
  readonly networks: ResourceClient;
  readonly namespace: string;
  private readonly timeoutMs: number;
  /** The named volumes a create made for a container (by its uid), that a failed run takes away again. */
  private readonly madeVolumes = new Map<string, string[]>();
  /** Docker IDs seen, to object names (an ID is the hash of the object's uid: a stale entry fails the check). */
  private readonly idNames = new Map<string, string>();

  private rememberId(obj: KObject): void {
    // bounded: an entry is only a shortcut, so the oldest go first
    if (this.idNames.size >= 10_000) this.idNames.delete(this.idNames.keys().next().value!);
    this.idNames.set(dockerIdOf(obj), obj.metadata.name);
  }

  constructor(readonly o: EngineOptions) {
    this.containers = o.client.resource(ContainerType);
    this.volumes = o.client.resource(VolumeType);
    this.networks = o.client.resource(NetworkType);
    this.namespace = o.namespace;
    this.timeoutMs = o.nodeTimeoutMs ?? 120_000;
  }

  async listContainers(): Promise<KObject[]> {
    return (await this.containers.listAll({ namespace: this.namespace })).items;
  }

  /** A container by Docker ID (or unique prefix), object name or Docker name; Docker's 404 otherwise. */
  async findContainer(ref: string): Promise<KObject> {
    const r = ref.replace(/^\//, '');
    // a full ID this engine has seen (the docker CLI sends the one create answered): one get, no list
    const known = this.idNames.get(r);
    if (known !== undefined) {
      const obj = await this.containers.getIfExists(this.namespace, known);
      if (obj && dockerIdOf(obj) === r) return obj;
      this.idNames.delete(r);
    }
    if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(r) && r.length <= 253) {
      const byName = await this.containers.getIfExists(this.namespace, r);
      if (byName) return byName;
    }
    const all = await this.listContainers();
    const exact = all.find((c) => dockerNameOf(c) === r) ?? all.find((c) => dockerIdOf(c) === r);
    if (exact) {
      this.rememberId(exact);
      return exact;
    }
    if (/^[a-f0-9]{3,63}$/.test(r)) {
      const m = all.filter((c) => dockerIdOf(c).startsWith(r) || (statusOf(c).containerID ?? '').startsWith(r));
      if (m.length > 1) throw new DockerError(`Multiple IDs found with provided prefix: ${r}`, 400);
      if (m[0]) return m[0];
    }
    throw notFound(`No such container: ${ref}`);
  }

  /** A Network by object name, Docker name or Docker ID (or unique prefix); Docker's 404 otherwise. */
  async findNetwork(ref: string): Promise<KObject> {
    if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(ref) && ref.length <= 253) {
      const byName = await this.networks.getIfExists(this.namespace, ref);
      if (byName) return byName;
    }
    const all = (await this.networks.listAll({ namespace: this.namespace })).items;
    const exact = all.find((n) => dockerNameOf(n) === ref) ?? all.find((n) => dockerIdOf(n) === ref);
    if (exact) return exact;
    if (/^[a-f0-9]{3,63}$/.test(ref)) {
      const m = all.filter((n) => dockerIdOf(n).startsWith(ref));
      if (m.length === 1) return m[0]!;
    }
    throw notFound(`network ${ref} not found`);
  }

  /** The object holding a Docker name, if any. */
  private async holderOf(dockerName: string): Promise<KObject | undefined> {
    const objName = objectNameFor(dockerName);
    const direct = await this.containers.getIfExists(this.namespace, objName);
    if (direct) return direct;
    return (await this.listContainers()).find((c) => dockerNameOf(c) === dockerName);
  }

  private nameInUse(dockerName: string, holder: KObject): DockerError {
    return conflict(
      `Conflict. The container name "/${dockerName}" is already in use by container "${dockerIdOf(holder)}" (Container ${this.namespace}/${holder.metadata.name}). You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }

  /**
   * docker create (and the create of docker run): volumes first, then the Container, then waits until
   * the node has made it (or says why not). Anything it made is removed again when a step fails.
   */
  async create(body: CreateBody, o: { name?: string; start?: boolean } = {}): Promise<KObject> {
    const t0 = performance.now();
    const dockerName = o.name ? checkDockerName(o.name, 'container') : randomName();
    if (body.HostConfig?.PublishAllPorts && body.Image && this.o.imageExposedPorts) {
      // docker run -P publishes what the image EXPOSEs too; a missing image is the 404 below
      const exposed = await this.o.imageExposedPorts(body.Image).catch(() => undefined);
      if (exposed) body = { ...body, ExposedPorts: { ...exposed, ...body.ExposedPorts } };
    }
    const plan = planContainer(body, { dockerName, createdBy: this.o.createdBy, ...(this.o.nodeName ? { nodeName: this.o.nodeName } : {}), start: o.start === true });
    const holder = await this.holderOf(dockerName);
    if (holder) throw this.nameInUse(dockerName, holder);
    if (this.o.imageExists && !(await this.o.imageExists(body.Image!))) throw notFound(`No such image: ${body.Image}`);
    // user networks by their Docker names → the Networks' object names (docker's 404 for one that is not there)
    const joined = (plan.container.spec as { networks?: { name: string }[] }).networks ?? [];
    for (const [i, ref] of plan.networkRefs.entries()) joined[i]!.name = (await this.findNetwork(ref)).metadata.name;
    const made: KObject[] = [];
    // what this create made goes again, and is waited for: a failed create leaves nothing, not even a terminating object
    const rollback = async (): Promise<void> => {
      for (const m of made.reverse()) {
        const rc = m.kind === 'Volume' ? this.volumes : this.containers;
        await rc.delete(this.namespace, m.metadata.name, { preconditions: { uid: m.metadata.uid! } }).catch(() => undefined);
        await watchUntil(rc, this.namespace, m.metadata.name, (o) => (!o || o.metadata.uid !== m.metadata.uid ? true : undefined), { timeoutMs: this.timeoutMs }).catch(() => undefined);
      }
    };
    try {
      for (const v of plan.volumes) {
        if (!v.anonymous) {
          const existing = await this.volumes.getIfExists(this.namespace, v.object.metadata.name);
          if (existing) continue;
        }
        try {
          made.push(await this.volumes.create(this.namespace, v.object));
        } catch (e) {
          if (!v.anonymous && isConflict(e)) continue; // made meanwhile by someone else: Docker uses it too
          throw e;
        }
      }
      let created: KObject;
      try {
        created = await this.containers.create(this.namespace, plan.container);
      } catch (e) {
        if (isConflict(e)) {
          const h = await this.holderOf(dockerName);
          if (h) throw this.nameInUse(dockerName, h);
        }
        throw e;
      }
      made.push(created);
      this.mark('create: object', t0);
      const gen = created.metadata.generation ?? 1;
      const onNode = await watchUntil<KObject>(
        this.containers,
        this.namespace,
        created.metadata.name,
        (obj) => {
          if (!obj) throw new DockerError(`container ${dockerName} was deleted while it was being created`, 409);
          const s = statusOf(obj);
          if ((s.observedGeneration ?? 0) < gen) return undefined;
          if (s.reason === 'ImagePullBackOff' || s.reason === 'ErrImagePull') throw notFound(`No such image: ${body.Image}${s.message ? ` (${s.message})` : ''}`);
          if (s.phase === 'Failed' && s.reason !== 'StartError') throw new DockerError(s.message ?? `the node could not create container ${dockerName} (${s.reason})`, 400);
          return s.containerID ? obj : undefined;
        },
        { timeoutMs: this.timeoutMs, what: `container ${dockerName} on node ${this.o.nodeName ?? '(scheduled)'}`, from: created },
      );
      this.mark('create: on node', t0);
      this.madeVolumes.set(created.metadata.uid!, made.filter((m) => m.kind === 'Volume').map((m) => m.metadata.name));
      this.rememberId(onNode);
      return onNode;
    } catch (e) {
      await rollback();
      throw e;
    }
  }

  private async patchSpec(obj: KObject, spec: Record<string, unknown>): Promise<KObject> {
    return this.containers.patch(this.namespace, obj.metadata.name, { spec }, { type: 'merge' });
  }

  /** Waits for the node to observe generation `gen` and for `check` to hold. */
  private untilObserved<T>(obj: KObject, gen: number, check: (o: KObject, s: Status) => T | undefined, from?: KObject): Promise<T> {
    return watchUntil(
      this.containers,
      this.namespace,
      obj.metadata.name,
      (o) => {
        if (!o) throw notFound(`No such container: ${dockerNameOf(obj)}`);
        const s = statusOf(o);
        if ((s.observedGeneration ?? 0) < gen) return undefined;
        return check(o, s);
      },
      { timeoutMs: this.timeoutMs, what: `container ${dockerNameOf(obj)}`, ...(from ? { from } : {}) },
    );
  }

  /**
   * docker start: spec.state Running, then waits until the node reports it running (or exited after
   * running). A start that fails (no such executable...) throws with the runtime's message; `exitCode`
   * on the error gives Docker's 126/127.
   */
  async start(ref: KObject): Promise<'started' | 'already'> {
    let obj = ref;
    if (isRunning(obj) && specOf(obj).state !== 'Stopped') return 'already';
    if (specOf(obj).state === 'Running' && !neverStarted(obj)) {
      // an exited container whose spec still says Running (it ended by itself): stop, then start again
      obj = await this.patchSpec(obj, { state: 'Stopped' });
      const g = obj.metadata.generation ?? 0;
      await this.untilObserved(obj, g, (_o, s) => (s.phase !== 'Running' && s.phase !== 'Paused' ? true : undefined));
    }
    const t0 = performance.now();
    obj = await this.patchSpec(obj, { state: 'Running' });
    this.mark('start: patched', t0);
    const gen = obj.metadata.generation ?? 0;
    await this.untilObserved(obj, gen, (_o, s) => {
      if (s.phase === 'Failed' && (s.reason === 'PortInUse' || s.reason === 'NetworkError')) {
        // docker's words for a port or address it cannot have: the node's message names the field
        throw Object.assign(new DockerError(`driver failed programming external connectivity on endpoint ${dockerNameOf(obj)}: ${s.message ?? s.reason}`, 500), { exitCode: 125 });
      }
      if (s.phase === 'Failed' || s.reason === 'StartError') {
        const msg = runtimeMessage(s.message) ?? `container ${dockerNameOf(obj)} failed to start (${s.reason ?? 'Failed'})`;
        throw Object.assign(new DockerError(msg, 400), { exitCode: startFailureCode(msg) });
      }
      if (s.phase === 'Running' || s.phase === 'Paused' || (s.phase === 'Exited' && s.reason !== 'Stopped' && s.finishedAt)) return true;
      return undefined;
    }, obj);
    this.mark('start: running', t0);
    return 'started';
  }

  /** docker stop [-t]: spec.state Stopped (with the grace period), until the node reports it stopped. */
  async stop(ref: KObject, timeoutSeconds?: number): Promise<'stopped' | 'already'> {
    if (!isRunning(ref) && specOf(ref).state === 'Stopped') return 'already';
    const wasRunning = isRunning(ref);
    const obj = await this.patchSpec(ref, { state: 'Stopped', ...(timeoutSeconds !== undefined ? { stopGracePeriodSeconds: Math.max(0, Math.floor(timeoutSeconds)) } : {}) });
    await this.untilObserved(obj, obj.metadata.generation ?? 0, (_o, s) => (s.phase !== 'Running' && s.phase !== 'Paused' ? true : undefined));
    return wasRunning ? 'stopped' : 'already';
  }

  async restart(ref: KObject, timeoutSeconds?: number): Promise<void> {
    await this.stop(ref, timeoutSeconds);
    await this.start(await this.containers.get(this.namespace, ref.metadata.name));
  }

  async pause(ref: KObject): Promise<void> {
    if (statusOf(ref).phase !== 'Running') throw conflict(`Container ${dockerIdOf(ref)} is not running`);
    const obj = await this.patchSpec(ref, { state: 'Paused' });
    await this.untilObserved(obj, obj.metadata.generation ?? 0, (_o, s) => (s.phase === 'Paused' ? true : s.phase !== 'Running' ? true : undefined));
  }

  async unpause(ref: KObject): Promise<void> {
    if (statusOf(ref).phase !== 'Paused') throw conflict(`Container ${dockerIdOf(ref)} is not paused`);
    const obj = await this.patchSpec(ref, { state: 'Running' });
    await this.untilObserved(obj, obj.metadata.generation ?? 0, (_o, s) => (s.phase !== 'Paused' ? true : undefined));
  }

  /** docker rename: the Docker name is an annotation (object names cannot change). */
  async rename(ref: KObject, newName: string): Promise<void> {
    const dockerName = checkDockerName(newName, 'container');
    const holder = await this.holderOf(dockerName);
    if (holder && holder.metadata.uid !== ref.metadata.uid) throw this.nameInUse(dockerName, holder);
    const value = dockerName === ref.metadata.name ? null : dockerName;
    await this.containers.patch(this.namespace, ref.metadata.name, { metadata: { annotations: { [ANNOTATION_DOCKER_NAME]: value } } }, { type: 'merge' });
  }

  /** docker rm [-f] [-v]: refuses a running container without force; with it, no grace period. Waits until gone. */
  private mark(what: string, t0: number): void {
    this.o.trace?.(`${what} ${(performance.now() - t0).toFixed(1)} ms`);
  }

  async remove(ref: KObject, o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const t0 = performance.now();
    if (isRunning(ref) && !o.force) {
      throw conflict(`cannot remove container "/${dockerNameOf(ref)}": container is running: stop the container before removing or force remove`);
    }
    let killing: Promise<void> | undefined;
    if (o.force && isRunning(ref)) {
      // docker rm -f kills at once: SIGKILL through the kill subresource (no write), sent alongside the
      // deletion, so the node's removal sees the process die instead of waiting out the stop grace period
      // (a kill that arrives after the removal finds nothing, which is as good). A container the node
      // would restart after that kill gets a grace period of 0 first (in place: no restart), then the
      // deletion stops it.
      if (this.o.kill && (specOf(ref).restartPolicy ?? 'Always') === 'Never') killing = this.o.kill(ref, 'KILL').catch(() => undefined);
      else if (specOf(ref).stopGracePeriodSeconds !== 0) {
        await this.patchSpec(ref, { stopGracePeriodSeconds: 0 }).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      }
    }
    try {
      await this.containers.delete(this.namespace, ref.metadata.name, { preconditions: { uid: ref.metadata.uid! } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.mark('remove: deleted', t0);
    await killing;
    this.mark('remove: killed', t0);
    await watchUntil(this.containers, this.namespace, ref.metadata.name, (obj) => (!obj || obj.metadata.uid !== ref.metadata.uid ? true : undefined), { timeoutMs: this.timeoutMs, what: `removal of ${dockerNameOf(ref)}` }).catch((e: unknown) => {
      if (!(e instanceof Error && /gone while waiting/.test(e.message))) throw e;
    });
    this.mark('remove: gone', t0);
    if (o.volumes) await this.removeAnonymousVolumes(ref.metadata.name);
  }

  /**
   * Undoes a create whose run failed afterwards (a start refused for a port in use...): the container,
   * its anonymous volumes and the named volumes this create made, once no other container mounts them.
   */
  async discard(ref: KObject): Promise<void> {
    await this.remove(ref, { force: true, volumes: true });
    const names = this.madeVolumes.get(ref.metadata.uid!) ?? [];
    this.madeVolumes.delete(ref.metadata.uid!);
    if (!names.length) return;
    const users = new Set((await this.listContainers()).flatMap((c) => ((c.spec ?? {}) as { volumeMounts?: { name?: string }[] }).volumeMounts?.map((m) => m.name) ?? []));
    for (const name of names.filter((n) => !users.has(n))) {
      const v = await this.volumes.getIfExists(this.namespace, name);
      if (!v) continue;
      await this.volumes.delete(this.namespace, name, { preconditions: { uid: v.metadata.uid! } }).catch(() => undefined);
      await watchUntil(this.volumes, this.namespace, name, (o) => (!o || o.metadata.uid !== v.metadata.uid ? true : undefined), { timeoutMs: this.timeoutMs }).catch(() => undefined);
    }
  }

  async removeAnonymousVolumes(containerName: string): Promise<void> {
    const vols = (await this.volumes.listAll({ namespace: this.namespace })).items.filter((v) => v.metadata.annotations?.[ANNOTATION_ANONYMOUS_FOR] === containerName);
    for (const v of vols) await this.volumes.delete(this.namespace, v.metadata.name).catch(() => undefined);
  }

  /**
   * docker wait: `not-running` (now, if it is not running), `next-exit` (the next exit from now on) or
   * `removed` (the exit of a container that is then deleted). `ready` is called once the wait is armed.
   */
  async wait(ref: KObject, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', o: { signal?: AbortSignal; ready?: () => void } = {}): Promise<WaitResult> {
    const start = statusOf(ref);
    const startGen = ref.metadata.generation ?? 0;
    if (condition === 'not-running' && !isRunning(ref) && !(specOf(ref).state === 'Running' && neverStarted(ref))) {
      o.ready?.();
      return { StatusCode: start.exitCode ?? 0, Error: null };
    }
    let last: KObject | undefined = ref;
    let exit: WaitResult | undefined;
    const exitOf = (obj: KObject): WaitResult | undefined => {
      const s = statusOf(obj);
      if (s.phase === 'Failed' && s.reason === 'StartError' && (obj.metadata.generation ?? 0) >= startGen && (s.observedGeneration ?? 0) >= (obj.metadata.generation ?? 0)) {
        return { StatusCode: startFailureCode(s.message ?? ''), Error: { Message: s.message ?? 'start failed' } };
      }
      if (s.phase !== 'Exited' || !s.finishedAt) return undefined;
      if (s.finishedAt === start.finishedAt && (s.restartCount ?? 0) === (start.restartCount ?? 0)) return undefined;
      return { StatusCode: s.exitCode ?? 0, Error: null };
    };
    const armed = watchUntil(
      this.containers,
      this.namespace,
      ref.metadata.name,
      (obj) => {
        if (!obj || obj.metadata.uid !== ref.metadata.uid) {
          if (condition === 'removed') return exit ?? { StatusCode: statusOf(last).exitCode ?? 0, Error: null };
          if (exit) return exit;
          return { StatusCode: statusOf(last).exitCode ?? 0, Error: null };
        }
        last = obj;
        exit = exit ?? exitOf(obj);
        if (condition !== 'removed' && exit) return exit;
        return undefined;
      },
      { ...(o.signal ? { signal: o.signal } : {}), what: `wait for ${dockerNameOf(ref)}` },
    );
    o.ready?.();
    return armed;
  }
}
