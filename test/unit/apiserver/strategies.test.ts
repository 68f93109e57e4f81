/**
 * REST strategies and deletion in-process: the registry (Resources) over a memory store, without
 * the controllers, so that each step (the finalizers a delete sets, what a subresource may write,
 * which strategy hook ran) is seen as it is, not after a collector acted on it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { containerKind } from '../../../src/api/container.js';
import { eventKind } from '../../../src/api/event.js';
import type { KindInfo } from '../../../src/api/kind.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { namespaceKind } from '../../../src/api/namespace.js';
import { kinds } from '../../../src/api/registry.js';
import { gcFinalizers } from '../../../src/apiserver/deletion.js';
import { Resources, type WriteOptions } from '../../../src/apiserver/resources.js';
import { builtinStrategies, NodeBoundStrategy } from '../../../src/apiserver/strategies.js';
import { DefaultStrategy, StrategyRegistry, type Subresource } from '../../../src/apiserver/strategy.js';
import type { StatusCause } from '../../../src/apiserver/status.js';
import { openStore } from '../../../src/store/index.js';

const OPTS: WriteOptions = { fieldManager: 'test', dryRun: false, fieldValidation: 'Strict' };
const container = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, ...extra },
  spec: { image: 'busybox:latest', command: ['sleep', '1'] },
});

let resources: Resources;
beforeEach(async () => {
  resources = new Resources(await openStore('memory:'), kinds);
  await resources.create(namespaceKind, '', { metadata: { name: 'default' } }, OPTS);
});

describe('gcFinalizers', () => {
  it('sets the collector finalizer of the policy and takes the other back; no policy keeps what is there', () => {
    expect(gcFinalizers(['a'], 'Orphan')).toEqual(['a', 'orphan']);
    expect(gcFinalizers(['a', 'orphan'], 'Foreground')).toEqual(['a', 'foregroundDeletion']);
    expect(gcFinalizers(['foregroundDeletion', 'a', 'orphan'], 'Background')).toEqual(['a']);
    expect(gcFinalizers(['a', 'orphan'], undefined)).toEqual(['a', 'orphan']);
    expect(gcFinalizers([], undefined)).toEqual([]);
  });
});

describe('deletion by propagation policy', () => {
  it('Orphan, then Foreground, then Background: each delete leaves the finalizer of its policy, deletionTimestamp stays', async () => {
    await resources.create(containerKind, 'default', container('c', { finalizers: ['example.com/hold'] }), OPTS);
    const orphan = await resources.delete(containerKind, 'default', 'c', { dryRun: false, propagationPolicy: 'Orphan' });
    expect(orphan.deleted).toBe(false);
    expect(orphan.object.metadata.finalizers).toEqual(['example.com/hold', 'orphan']);
    const since = orphan.object.metadata.deletionTimestamp;
    expect(since).toBeTruthy();
    const fg = await resources.delete(containerKind, 'default', 'c', { dryRun: false, propagationPolicy: 'Foreground' });
    expect(fg.object.metadata.finalizers).toEqual(['example.com/hold', 'foregroundDeletion']);
    const bg = await resources.delete(containerKind, 'default', 'c', { dryRun: false, propagationPolicy: 'Background' });
    expect(bg.object.metadata.finalizers).toEqual(['example.com/hold']);
    expect(bg.object.metadata.deletionTimestamp).toBe(since);
    const again = await resources.delete(containerKind, 'default', 'c', { dryRun: false });
    expect(again.object.metadata.resourceVersion).toBe(bg.object.metadata.resourceVersion);
  });

  it('Orphan on an object without finalizers holds it with the orphan finalizer alone; dropping it deletes the object', async () => {
    await resources.create(eventKind, 'default', { metadata: { name: 'e' }, involvedObject: { kind: 'Container', name: 'x' }, reason: 'R', message: 'm' }, { ...OPTS, fieldValidation: 'Ignore' });
    const out = await resources.delete(eventKind, 'default', 'e', { dryRun: false, propagationPolicy: 'Orphan' });
    expect(out).toMatchObject({ deleted: false, object: { metadata: { finalizers: ['orphan'] } } });
    const rv = out.object.metadata.resourceVersion;
    await resources.patch(eventKind, 'default', 'e', 'json', [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, { op: 'replace', path: '/metadata/finalizers', value: [] }], OPTS, undefined);
    await expect(resources.get(eventKind, 'default', 'e')).rejects.toMatchObject({ code: 404 });
  });
});

describe('node-bound strategies', () => {
  it('drop their finalizer on delete only while the object is not bound to a node', () => {
    const s = new NodeBoundStrategy(containerKind, 'berth.dev/container');
    const unbound = { apiVersion: 'v', kind: 'Container', metadata: { name: 'a', finalizers: ['x', 'berth.dev/container'] }, spec: {} } as ApiObject;
    s.prepareForDelete(unbound);
    expect(unbound.metadata.finalizers).toEqual(['x']);
    const alone = { apiVersion: 'v', kind: 'Container', metadata: { name: 'a', finalizers: ['berth.dev/container'] }, spec: { nodeName: '' } } as ApiObject;
    s.prepareForDelete(alone);
    expect(alone.metadata.finalizers).toBeUndefined();
    const bound = { apiVersion: 'v', kind: 'Container', metadata: { name: 'a', finalizers: ['berth.dev/container'] }, spec: { nodeName: 'n1' } } as ApiObject;
    s.prepareForDelete(bound);
    expect(bound.metadata.finalizers).toEqual(['berth.dev/container']);
  });

  it('the registry gives Containers, Volumes and Images their finalizer, the others the default strategy', () => {
    const reg = builtinStrategies(kinds);
    const byPlural = (p: string) => reg.for(kinds.find((k) => k.plural === p)!);
    expect(byPlural('containers').finalizersOnCreate).toEqual(['berth.dev/container']);
    expect(byPlural('volumes').finalizersOnCreate).toEqual(['berth.dev/volume']);
    expect(byPlural('images').finalizersOnCreate).toEqual(['berth.dev/image']);
    expect(byPlural('nodes').finalizersOnCreate).toEqual([]);
    expect(Object.keys(byPlural('namespaces').subresources).sort()).toEqual(['finalize', 'status']);
    expect(byPlural('events').subresources).toEqual({});
    expect(() => reg.for({ ...eventKind, plural: 'unknowns' })).toThrow(/not registered/);
  });
});

describe('namespaces in-process', () => {
  it('finalizeNamespace drops the kubernetes finalizer only; the namespace goes when no finalizer is left', async () => {
    await resources.create(namespaceKind, '', { metadata: { name: 'two' }, spec: { finalizers: ['example.com/x'] } }, OPTS);
    await resources.delete(namespaceKind, '', 'two', { dryRun: false });
    await resources.finalizeNamespace('two', 'ns-controller');
    const left = await resources.get(namespaceKind, '', 'two');
    expect(left.spec).toEqual({ finalizers: ['example.com/x'] });
    expect(left.status).toMatchObject({ phase: 'Terminating' });
    await resources.replace(namespaceKind, '', 'two', { ...left, spec: { finalizers: [] } }, OPTS, 'finalize');
    await expect(resources.get(namespaceKind, '', 'two')).rejects.toMatchObject({ code: 404 });
  });

  it('a kind without the subresource refuses it in-process too', async () => {
    await resources.create(containerKind, 'default', container('c'), OPTS);
    await expect(resources.patch(containerKind, 'default', 'c', 'merge', { spec: {} }, OPTS, 'finalize')).rejects.toMatchObject({ code: 404 });
    await expect(resources.patch(eventKind, 'default', 'c', 'merge', { spec: {} }, OPTS, 'status')).rejects.toMatchObject({ code: 404 });
  });
});

describe('a strategy of its own', () => {
  /** Labels must carry an owner; canonical form sorts the finalizers. */
  class Picky extends DefaultStrategy {
    readonly calls: string[] = [];
    override validate(obj: ApiObject): StatusCause[] {
      this.calls.push('validate');
      return obj.metadata.labels?.owner ? [] : [{ reason: 'FieldValueRequired', field: 'metadata.labels.owner', message: 'Required value' }];
    }
    override validateUpdate(next: ApiObject, _old: ApiObject, sub: Subresource): StatusCause[] {
      this.calls.push(`validateUpdate:${sub ?? 'main'}`);
      return this.validate(next);
    }
    override canonicalize(obj: ApiObject): void {
      this.calls.push('canonicalize');
      obj.metadata.finalizers?.sort();
    }
  }

  it('is consulted on create and update: its causes are a 422 naming the field, its canonical form is what is stored', async () => {
    const picky = new Picky(containerKind);
    const own = new Resources(await openStore('memory:'), kinds, new StrategyRegistry(kinds, (k: KindInfo) => (k === containerKind ? picky : undefined)));
    await own.create(namespaceKind, '', { metadata: { name: 'default' } }, OPTS);
    await expect(own.create(containerKind, 'default', container('p'), OPTS)).rejects.toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.labels.owner' }] } });
    const made = await own.create(containerKind, 'default', container('p', { labels: { owner: 'me' }, finalizers: ['z.io/b', 'a.io/a'] }), OPTS);
    expect(made.object.metadata.finalizers).toEqual(['a.io/a', 'z.io/b']);
    await expect(own.patch(containerKind, 'default', 'p', 'merge', { metadata: { labels: { owner: null } } }, OPTS, undefined)).rejects.toMatchObject({ code: 422 });
    expect(picky.calls).toEqual(['validate', 'validate', 'canonicalize', 'validateUpdate:main', 'validate']);
  });
});
