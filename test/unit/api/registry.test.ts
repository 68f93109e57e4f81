import { describe, expect, it } from 'vitest';
import { apiVersionOf } from '../../../src/api/kind.js';
import {
  kindByApiVersionKind,
  kindByGroupKind,
  kindByGroupPlural,
  kindByResource,
  kinds,
  kindsInGroup,
  resolveKind,
} from '../../../src/api/registry.js';
import { validateObject } from '../../../src/api/validation.js';

describe('kind registry', () => {
  it('holds every kind once, with consistent names', () => {
    expect(kinds.map((k) => `${k.group}/${k.kind}`)).toEqual([
      'berth.dev/Image',
      'berth.dev/Container',
      'berth.dev/Volume',
      'berth.dev/Network',
      'berth.dev/Node',
      'berth.dev/GitSync',
      '/Namespace',
      '/Event',
      '/Secret',
      'rbac.authorization.k8s.io/Role',
      'rbac.authorization.k8s.io/ClusterRole',
      'rbac.authorization.k8s.io/RoleBinding',
      'rbac.authorization.k8s.io/ClusterRoleBinding',
    ]);
    const names = kinds.flatMap((k) => [k.plural, k.singular, ...k.shortNames]);
    expect(new Set(names).size).toBe(names.length);
    for (const k of kinds) {
      expect(k.listKind).toBe(`${k.kind}List`);
      expect(k.singular).toBe(k.kind.toLowerCase());
      expect(k.description.length).toBeGreaterThan(20);
      expect(k.printerColumns.some((c) => c.name === 'Name')).toBe(false);
      for (const c of k.printerColumns) expect(c.jsonPath.startsWith('.')).toBe(true);
      expect(k.hasStatus).toBe(k.statusSchema !== undefined);
    }
    expect(kindsInGroup('').map((k) => k.kind)).toEqual(['Namespace', 'Event', 'Secret']);
  });

  it('finds kinds the ways the API server, store and CLI ask', () => {
    expect(kindByGroupPlural('berth.dev', 'containers')?.kind).toBe('Container');
    expect(kindByGroupPlural('', 'namespaces')?.kind).toBe('Namespace');
    expect(kindByGroupPlural('berth.dev', 'namespaces')).toBeUndefined();
    expect(kindByGroupKind('berth.dev', 'Image')?.plural).toBe('images');
    expect(kindByApiVersionKind('berth.dev/v1alpha1', 'Volume')?.plural).toBe('volumes');
    expect(kindByApiVersionKind('v1', 'Event')?.plural).toBe('events');
    expect(kindByApiVersionKind('berth.dev/v1', 'Volume')).toBeUndefined();
    expect(kindByResource('berth.dev/nodes')?.kind).toBe('Node');
    expect(kindByResource('core/events')?.kind).toBe('Event');
    for (const [name, kind] of [
      ['ctr', 'Container'],
      ['container', 'Container'],
      ['Containers', 'Container'],
      ['containers.berth.dev', 'Container'],
      ['containers.v1alpha1.berth.dev', 'Container'],
      ['img', 'Image'],
      ['vol', 'Volume'],
      ['ns', 'Namespace'],
      ['ev', 'Event'],
      ['nodes', 'Node'],
      ['gitsync', 'GitSync'],
      ['GitSync', 'GitSync'],
    ] as const) {
      expect(resolveKind(name)?.kind, name).toBe(kind);
    }
    expect(resolveKind('pods')).toBeUndefined();
    expect(resolveKind('containers.example.com')).toBeUndefined();
  });

  it('validates and defaults any kind by its KindInfo', () => {
    const k = kindByApiVersionKind('berth.dev/v1alpha1', 'Container')!;
    expect(apiVersionOf(k)).toBe('berth.dev/v1alpha1');
    const ok = validateObject(k, { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'a' }, spec: { image: 'busybox' } });
    expect(ok.ok && (ok.object.spec as { state: string }).state).toBe('Running');
    const bad = validateObject(k, { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'a' }, spec: { image: 1 } });
    expect(bad.ok ? [] : bad.causes).toEqual([
      { reason: 'FieldValueInvalid', field: 'spec.image', message: 'Invalid input: expected string, received number' },
    ]);
  });
});
