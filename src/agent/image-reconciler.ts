/**
 * The Image reconciler: makes the image present on this node and reports digest, size, layers,
 * config and presence: import (a tarball on the node or at a URL; rootfs, docker-archive or
 * oci-archive), pull (per pullPolicy) and build (spec.source.build, from a directory or git).
 * An Image being deleted removes its ref from the node's runtime (unless another Image on the node
 * names it), then its finalizer; the runtime's garbage collector frees the disk.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { randomBytes } from 'node:crypto';
import { shortDigestOf, type ImageSpec, type ImageStatus } from '../api/image.js';
import { isNotFound, type KObject } from '../client/api-client.js';
import type { ReconcileResult as HandlerResult } from '../client/controller.js';
import type { Informer } from '../client/informer.js';
import type { BerthResources } from '../client/kinds.js';
import { credentialsFromDockerConfig, Mutex, normaliseImageRef, parseConfigChanges, parseRemoteReference, RuntimeError, type Credentials, type Distribution, type Runtime } from '../runtime/index.js';
import type { EventRecorder } from './events.js';
import { buildFromSource, BuildFailure, type BuiltImage } from './image-build.js';
import { IMAGE_FINALIZER, splitKey } from './names.js';
import { condition, setFinalizer, writeStatus } from './status.js';

const PLURAL = 'images' as const;
const NOT_IMPLEMENTED_RETRY_MS = 60_000;
/** How often a built Image looks at its source again. */
const REBUILD_CHECK_MS = 60_000;

export interface ImageReconcilerDeps {
  client: BerthResources;
  runtime: Runtime;
  nodeName: string;
  images: Informer;
  events: EventRecorder;
  distribution?: Distribution;
  /** An image became present: containers waiting for it can go on. */
  onPresent(ref: string): void;
}

export class ImageReconciler {
  /** generation+uid last imported per key, so an unchanged spec is not imported again. */
  private readonly imported = new Map<string, string>();
  /** Per ref: one import, pull, build or removal at a time, so that each sees what the one before left. */
  private readonly refLocks = new Map<string, Mutex>();

  constructor(private readonly d: ImageReconcilerDeps) {}

  async reconcile(key: string): Promise<HandlerResult | void> {
    const { namespace, name } = splitKey(key);
    const obj = this.d.images.get(namespace, name);
    if (!obj || (obj.spec as ImageSpec | undefined)?.nodeName !== this.d.nodeName) return;
    const ref = normaliseImageRef((obj.spec as unknown as ImageSpec).ref);
    let lock = this.refLocks.get(ref);
    if (!lock) this.refLocks.set(ref, (lock = new Mutex()));
    return lock.run(() => (obj.metadata.deletionTimestamp ? this.release(key, obj) : this.converge(key, obj)));
  }

  private async converge(key: string, obj: KObject): Promise<HandlerResult | void> {
    // the API server adds it on create; an Image made before that still gets it here
    await setFinalizer(this.d.client[PLURAL], obj, IMAGE_FINALIZER, true);
    const spec = obj.spec as unknown as ImageSpec;
    const prev = (obj.status ?? {}) as ImageStatus;
    const present = await this.d.runtime.images.exists(spec.ref);
    const mark = `${obj.metadata.uid}/${obj.metadata.generation}`;
    const source = spec.source ?? { pull: {} };

    if (source.import) {
      const current = present && (prev.observedGeneration === obj.metadata.generation || this.imported.get(key) === mark) && prev.phase === 'Ready';
      if (!current && !(present && spec.pullPolicy === 'Never')) {
        await this.inProgress(obj, prev, 'Importing', 'Import');
        const before = await this.target(spec.ref);
        try {
          await this.importInto(spec);
        } catch (e) {
          const message = `import of ${source.import.path ?? source.import.url} failed: ${(e as Error).message}`;
          await this.fail(obj, prev, 'Import', 'ImportFailed', message);
          this.d.events.record(obj, 'Warning', 'Failed', message);
          throw new Error(message);
        }
        this.imported.set(key, mark);
        this.d.events.record(obj, 'Normal', 'Imported', `Imported image "${spec.ref}" from ${source.import.path ?? source.import.url} on node ${this.d.nodeName}`);
        await this.ready(obj, prev, 'Import', {}, before);
        return;
      }
      await this.ready(obj, prev, 'Import');
      return;
    }
    if (source.build) return this.build(obj, prev);
    if (present && spec.pullPolicy !== 'Always') {
      await this.ready(obj, prev, 'Pull');
      return;
    }
    return this.pull(key, obj, prev, mark);
  }

  /**
   * An Image being deleted: its ref leaves the node's runtime unless another Image on this node (not being
   * deleted itself) names the same ref; then the finalizer goes. Removing the ref untags the image, and
   * deletes it with its last name (kept while a container runs it); the runtime then collects its blobs
   * and layers that nothing else needs.
   */
  private async release(key: string, obj: KObject): Promise<void> {
    if (!obj.metadata.finalizers?.includes(IMAGE_FINALIZER)) return;
    const ref = (obj.spec as unknown as ImageSpec).ref;
    const same = (r: string): boolean => normaliseImageRef(r) === normaliseImageRef(ref);
    const named = this.d.images.list().some((o) => {
      const s = o.spec as ImageSpec | undefined;
      return o.metadata.uid !== obj.metadata.uid && !o.metadata.deletionTimestamp && s?.nodeName === this.d.nodeName && same(s.ref);
    });
    if (!named) {
      try {
        await this.d.runtime.images.remove(ref, { force: true });
        this.d.events.record(obj, 'Normal', 'Removed', `Removed image "${ref}" from node ${this.d.nodeName}`);
      } catch (e) {
        if (!(e instanceof RuntimeError && e.code === 'NotFound')) throw e;
      }
    }
    this.imported.delete(key);
    await setFinalizer(this.d.client[PLURAL], obj, IMAGE_FINALIZER, false);
  }

  /** The image a ref names now, if any. */
  private async target(ref: string): Promise<string | undefined> {
    try {
      return (await this.d.runtime.images.resolve(ref)).id;
    } catch {
      return undefined;
    }
  }

  /** Removes an image that no name refers to any more and no container uses (a re-import, pull or rebuild replaced it). */
  private async removeIfDangling(id: string): Promise<void> {
    const images = this.d.runtime.images;
    if (!(await images.exists(id)) || (await images.namesOf(id)).length > 0) return;
    await images.remove(id).catch((e: unknown) => {
      // still used by a container: kept, as docker rmi would (an image prune removes it once unused)
      if (!(e instanceof RuntimeError && (e.code === 'Conflict' || e.code === 'NotFound'))) throw e;
    });
  }

  /**
   * Builds on every pass (the layer cache answers an unchanged source in milliseconds), so a new
   * commit or a changed file in the context makes a new image without any trigger of its own.
   */
  private async build(obj: KObject, prev: ImageStatus): Promise<HandlerResult | void> {
    const spec = obj.spec as unknown as ImageSpec;
    const build = spec.source.build!;
    if (prev.phase !== 'Ready') await this.inProgress(obj, prev, 'Building', 'Build');
    const before = await this.target(spec.ref);
    let built: BuiltImage;
    try {
      built = await buildFromSource(this.d.runtime, spec.ref, build);
    } catch (e) {
      const message = `build of "${spec.ref}" failed: ${(e as Error).message}`;
      await this.fail(obj, prev, 'Build', 'BuildFailed', message, { buildLog: e instanceof BuildFailure ? e.log : [] });
      if (prev.conditions?.find((c) => c.type === 'Ready')?.message !== message) this.d.events.record(obj, 'Warning', 'Failed', message);
      throw new Error(message);
    }
    if (built.imageId !== prev.id) {
      this.d.events.record(obj, 'Normal', 'Built', `Built image "${spec.ref}" (${built.imageId.slice(7, 19)})${built.revision ? ` from ${built.revision.slice(0, 12)}` : ''} on node ${this.d.nodeName}`);
    }
    await this.ready(obj, prev, 'Build', { buildLog: built.log, ...(built.revision ? { sourceRevision: built.revision } : {}) }, before);
    return { requeueAfterMs: REBUILD_CHECK_MS };
  }

  /** Pull per pullPolicy; a failure is ErrImagePull, then ImagePullBackOff while the queue backs off. */
  private async pull(key: string, obj: KObject, prev: ImageStatus, mark: string): Promise<HandlerResult | void> {
    const spec = obj.spec as unknown as ImageSpec;
    if (spec.pullPolicy === 'Never') {
      const message = `image "${spec.ref}" is not present on node ${this.d.nodeName} and pullPolicy is Never`;
      await this.fail(obj, prev, 'Pull', 'ErrImageNeverPull', message);
      return { requeueAfterMs: NOT_IMPLEMENTED_RETRY_MS };
    }
    if (!this.d.distribution) {
      await this.fail(obj, prev, 'Pull', 'PullNotConfigured', `node ${this.d.nodeName} has no registry client; import the image (spec.source.import) instead`);
      return { requeueAfterMs: NOT_IMPLEMENTED_RETRY_MS };
    }
    // Always pulls once per spec generation, not on every resync.
    if (spec.pullPolicy === 'Always' && this.imported.get(key) === mark && (await this.d.runtime.images.exists(spec.ref))) {
      await this.ready(obj, prev, 'Pull');
      return;
    }
    await this.inProgress(obj, prev, 'Pulling', 'Pull');
    const before = await this.target(spec.ref);
    try {
      const started = Date.now();
      const secretName = spec.source.pull?.secretRef?.name;
      const credentials = secretName ? await this.pullCredentials(obj.metadata.namespace ?? 'default', secretName, spec.ref) : undefined;
      const result = await this.d.distribution.pull(spec.ref, credentials ? { credentials } : {});
      await this.d.runtime.images.tag(result.id, spec.ref);
      this.imported.set(key, mark);
      this.d.events.record(obj, 'Normal', 'Pulled', `Successfully pulled image "${spec.ref}" in ${Date.now() - started}ms on node ${this.d.nodeName}`);
    } catch (e) {
      const reason = prev.conditions?.find((c) => c.type === 'Ready')?.reason === 'ErrImagePull' ? 'ImagePullBackOff' : 'ErrImagePull';
      const message = `pulling "${spec.ref}" failed: ${(e as Error).message}`;
      await this.fail(obj, prev, 'Pull', reason, message);
      this.d.events.record(obj, 'Warning', 'Failed', message);
      throw new Error(message);
    }
    await this.ready(obj, prev, 'Pull', {}, before);
  }

  /** The login for the image's registry from a kubernetes.io/dockerconfigjson Secret, as kubelet reads imagePullSecrets. */
  private async pullCredentials(namespace: string, name: string, ref: string): Promise<Credentials> {
    let secret;
    try {
      secret = (await this.d.client.secrets.get(namespace, name)) as { data?: Record<string, string> };
    } catch (e) {
      throw new Error(`spec.source.pull.secretRef: secret "${name}" ${isNotFound(e) ? 'not found' : `could not be read (${(e as Error).message})`}`);
    }
    const raw = secret.data?.['.dockerconfigjson'];
    if (!raw) throw new Error(`spec.source.pull.secretRef: secret "${name}" has no .dockerconfigjson key (create it with kubectl create secret docker-registry)`);
    let config: unknown;
    try {
      config = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    } catch {
      throw new Error(`spec.source.pull.secretRef: secret "${name}": .dockerconfigjson is not JSON`);
    }
    const registry = parseRemoteReference(ref).registry;
    const creds = credentialsFromDockerConfig(config, registry);
    if (!creds) throw new Error(`spec.source.pull.secretRef: secret "${name}" has no login for ${registry}`);
    return creds;
  }

  private async importInto(spec: ImageSpec): Promise<void> {
    const imp = spec.source.import!;
    // a bad change fails the import before anything is downloaded or written
    const changes = imp.changes?.length ? parseConfigChanges(imp.changes, {}, { label: 'spec.source.import.changes' }) : undefined;
    const tmpDir = join(this.d.runtime.root, 'tmp');
    let path = imp.path;
    let download: string | undefined;
    try {
      if (!path && imp.url) {
        await mkdir(tmpDir, { recursive: true });
        download = join(tmpDir, `download-${randomBytes(8).toString('hex')}.tar`);
        const res = await fetch(imp.url);
        if (!res.ok || !res.body) throw new Error(`GET ${imp.url}: HTTP ${res.status}`);
        await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(download));
        path = download;
      }
      if (!path) throw new Error('spec.source.import: needs path or url');
      if (imp.format === 'rootfs') {
        await this.d.runtime.importImage(path, { ref: spec.ref, ...(changes ? { changes } : {}) });
        return;
      }
      try {
        const loaded = await this.d.runtime.loadImages(path);
        const first = loaded[0];
        if (!first) throw new Error('the archive holds no image');
        await this.d.runtime.images.tag(first.id, spec.ref);
      } catch (e) {
        const notArchive = e instanceof RuntimeError && e.code === 'Invalid' && /neither manifest\.json/.test(e.message);
        if (!notArchive || imp.format) throw e;
        await this.d.runtime.importImage(path, { ref: spec.ref, ...(changes ? { changes } : {}) });
      }
    } finally {
      if (download) await rm(download, { force: true });
    }
  }

  /** Reports the image present; `replaced` is what the ref named before this pass's import, pull or build. */
  private async ready(obj: KObject, prev: ImageStatus, sourceType: 'Pull' | 'Build' | 'Import', extra: Partial<ImageStatus> = {}, replaced?: string): Promise<void> {
    const spec = obj.spec as unknown as ImageSpec;
    const images = this.d.runtime.images;
    const rec = await images.resolve(spec.ref);
    const inspect = await images.inspect(rec.id);
    const manifest = await images.manifest(rec.id);
    const c = inspect.Config;
    const config: NonNullable<ImageStatus['config']> = {};
    if (c.Entrypoint) config.entrypoint = c.Entrypoint;
    if (c.Cmd) config.cmd = c.Cmd;
    if (c.Env.length) config.env = c.Env;
    if (c.WorkingDir) config.workingDir = c.WorkingDir;
    if (c.User) config.user = c.User;
    if (Object.keys(c.ExposedPorts).length) config.exposedPorts = Object.keys(c.ExposedPorts);
    if (Object.keys(c.Volumes).length) config.volumes = Object.keys(c.Volumes);
    if (Object.keys(c.Labels).length) config.labels = c.Labels;
    if (c.StopSignal) config.stopSignal = c.StopSignal;
    const prevNode = prev.nodes?.find((n) => n.nodeName === this.d.nodeName);
    const pulledAt = prevNode?.digest === rec.manifestDigest && prevNode.pulledAt ? prevNode.pulledAt : new Date().toISOString();
    const status: ImageStatus = {
      phase: 'Ready',
      sourceType,
      digest: rec.manifestDigest,
      shortDigest: shortDigestOf(rec.manifestDigest),
      id: rec.id,
      size: inspect.Size,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      ...(inspect.Created ? { created: inspect.Created } : {}),
      config,
      nodes: [...(prev.nodes ?? []).filter((n) => n.nodeName !== this.d.nodeName), { nodeName: this.d.nodeName, present: true, digest: rec.manifestDigest, pulledAt }],
      conditions: [condition(prev.conditions, { type: 'Ready', status: 'True', reason: 'Present', message: `present on node ${this.d.nodeName}` })],
      ...(obj.metadata.generation !== undefined ? { observedGeneration: obj.metadata.generation } : {}),
      ...extra,
    };
    await writeStatus(this.d.client[PLURAL], obj, status as Record<string, unknown>);
    this.d.onPresent(spec.ref);
    if (replaced && replaced !== rec.id) await this.removeIfDangling(replaced);
  }

  /**
   * Says an import, build or pull is under way, except on a retry after a failure of the same generation: that
   * keeps Failed (and its reason) until an attempt succeeds. Writing the phase each time made every retry two
   * different status writes, whose watch events started the next attempt at once, past the queue's backoff.
   */
  private async inProgress(obj: KObject, prev: ImageStatus, phase: 'Importing' | 'Building' | 'Pulling', sourceType: 'Import' | 'Build' | 'Pull'): Promise<void> {
    if (prev.phase === 'Failed' && prev.observedGeneration === obj.metadata.generation) return;
    await writeStatus(this.d.client[PLURAL], obj, { ...prev, phase, sourceType });
  }

  private async fail(obj: KObject, prev: ImageStatus, sourceType: 'Pull' | 'Build' | 'Import', reason: string, message: string, extra: Partial<ImageStatus> = {}): Promise<void> {
    const status: ImageStatus = {
      phase: 'Failed',
      sourceType,
      nodes: [...(prev.nodes ?? []).filter((n) => n.nodeName !== this.d.nodeName), { nodeName: this.d.nodeName, present: false, message }],
      conditions: [condition(prev.conditions, { type: 'Ready', status: 'False', reason, message })],
      ...(obj.metadata.generation !== undefined ? { observedGeneration: obj.metadata.generation } : {}),
      ...extra,
    };
    await writeStatus(this.d.client[PLURAL], obj, status as Record<string, unknown>);
  }
}
