import { describe, expect, it } from 'vitest';
import {
  findByKind,
  findResource,
  qualifiedKind,
  qualifiedResource,
  resolveResource,
  resourcePath,
  splitTypeAndNames,
} from '../../../src/cli/kinds.js';
import { knownKinds } from '../../../src/cli/known-kinds.js';

describe('findResource over the built-in kinds', () => {
  it.each([
    ['containers', 'Container'],
    ['container', 'Container'],
    ['ctr', 'Container'],
    ['Container', 'Container'],
    ['CONTAINERS', 'Container'],
    ['containers.berth.dev', 'Container'],
    ['container.v1alpha1.berth.dev', 'Container'],
    ['namespaces', 'Namespace'],
    ['ns', 'Namespace'],
    ['events', 'Event'],
    ['ev', 'Event'],
    ['nodes', 'Node'],
    ['images', 'Image'],
    ['volumes', 'Volume'],
    ['gitsyncs', 'GitSync'],
  ])('%s is %s', (arg, kind) => {
    expect(findResource(arg, knownKinds)?.kind).toBe(kind);
  });

  it('finds nothing for unknown names or a wrong group', () => {
    expect(findResource('pods', knownKinds)).toBeUndefined();
    expect(findResource('containers.apps', knownKinds)).toBeUndefined();
    expect(findResource('containers.v1.berth.dev', knownKinds)).toBeUndefined();
    expect(findResource('', knownKinds)).toBeUndefined();
  });

  it('resolveResource uses kubectl words for an unknown type', () => {
    expect(() => resolveResource('foo', knownKinds)).toThrow('the server doesn\'t have a resource type "foo"');
  });

  it('prefers a plural or singular over a short name of another resource', () => {
    const refs = [
      { group: 'a', version: 'v1', kind: 'Alpha', plural: 'alphas', singular: 'alpha', shortNames: ['beta'], namespaced: true },
      { group: 'b', version: 'v1', kind: 'Beta', plural: 'betas', singular: 'beta', shortNames: [], namespaced: true },
    ];
    expect(findResource('beta', refs)?.kind).toBe('Beta');
  });
});

describe('names and paths', () => {
  const container = findResource('containers', knownKinds)!;
  const namespace = findResource('ns', knownKinds)!;

  it('qualifies resources and kinds as kubectl prints them', () => {
    expect(qualifiedResource(container)).toBe('containers.berth.dev');
    expect(qualifiedKind(container)).toBe('container.berth.dev');
    expect(qualifiedResource(namespace)).toBe('namespaces');
    expect(qualifiedKind(namespace)).toBe('namespace');
  });

  it('builds collection and object paths, ignoring a namespace for cluster-scoped kinds', () => {
    expect(resourcePath(container, 'default')).toBe('/apis/berth.dev/v1alpha1/namespaces/default/containers');
    expect(resourcePath(container, 'default', 'web')).toBe('/apis/berth.dev/v1alpha1/namespaces/default/containers/web');
    expect(resourcePath(container, undefined)).toBe('/apis/berth.dev/v1alpha1/containers');
    expect(resourcePath(namespace, 'default', 'kube-system')).toBe('/api/v1/namespaces/kube-system');
  });

  it('finds a kind by a manifest apiVersion and kind', () => {
    expect(findByKind('berth.dev/v1alpha1', 'Volume', knownKinds)?.plural).toBe('volumes');
    expect(findByKind('v1', 'Namespace', knownKinds)?.plural).toBe('namespaces');
    expect(findByKind('berth.dev/v1', 'Volume', knownKinds)).toBeUndefined();
  });
});

describe('splitTypeAndNames', () => {
  it('takes KIND NAME... and KIND/NAME forms', () => {
    expect(splitTypeAndNames(['ctr', 'a', 'b'])).toEqual([{ kind: 'ctr', names: ['a', 'b'] }]);
    expect(splitTypeAndNames(['ctr/a', 'vol/b', 'ctr/c'])).toEqual([
      { kind: 'ctr', names: ['a', 'c'] },
      { kind: 'vol', names: ['b'] },
    ]);
    expect(splitTypeAndNames([])).toEqual([]);
  });

  it('rejects mixing the two forms', () => {
    expect(() => splitTypeAndNames(['ctr/a', 'b'])).toThrow(/resource\/name form/);
  });
});
