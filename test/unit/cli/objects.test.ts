import { V1MicroTime } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { asList, formatObjects, parseObjectFormat, toPlain, toYaml, withTypeMeta } from '../../../src/cli/output/objects.js';

const ref = { group: 'berth.dev', version: 'v1alpha1', kind: 'Container' };

describe('toPlain', () => {
  it('turns client-node Date fields back into RFC 3339 strings and drops undefined', () => {
    const obj = { metadata: { creationTimestamp: new Date('2025-01-02T03:04:05Z'), uid: undefined }, at: new V1MicroTime('2025-01-02T03:04:05.123456Z') };
    const plain = toPlain(obj) as { metadata: Record<string, unknown>; at: string };
    expect(plain.metadata).toEqual({ creationTimestamp: '2025-01-02T03:04:05Z' });
    expect(plain.at).toMatch(/^2025-01-02T03:04:05\.123/);
  });
});

describe('output', () => {
  const a = withTypeMeta({ metadata: { name: 'a', creationTimestamp: '2025-01-02T03:04:05Z' }, spec: { command: ['sh'], flag: 'yes' } }, ref);

  it('withTypeMeta fills apiVersion and kind that list items lack', () => {
    expect(a.apiVersion).toBe('berth.dev/v1alpha1');
    expect(a.kind).toBe('Container');
  });

  it('yaml keeps sequences flush with their key and quotes strings YAML 1.1 would retype', () => {
    const y = toYaml(a);
    expect(y).toContain('spec:\n  command:\n  - sh\n');
    expect(y).toContain('creationTimestamp: "2025-01-02T03:04:05Z"');
    expect(y).toContain('flag: "yes"');
  });

  it('prints one object alone, several as a List, and names as kind.group/name', () => {
    const b = { ...a, metadata: { name: 'b' } };
    expect(JSON.parse(formatObjects([a], 'json', () => ref, true))).toEqual(a);
    expect(JSON.parse(formatObjects([a, b], 'json', () => ref, false))).toEqual(asList([a, b]));
    expect(formatObjects([a, b], 'name', () => ref, false)).toBe('container.berth.dev/a\ncontainer.berth.dev/b\n');
    expect(formatObjects([a], 'json', () => ref, true)).toContain('\n    "kind": "Container"');
  });

  it('rejects an unknown output format naming the allowed ones', () => {
    expect(parseObjectFormat(undefined, ['', 'yaml'])).toBe('');
    expect(() => parseObjectFormat('xml', ['', 'yaml', 'json'])).toThrow('unable to match a printer suitable for the output format "xml", allowed formats are: yaml,json');
  });
});
