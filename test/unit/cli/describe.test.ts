import { describe, expect, it } from 'vitest';
import { describeObject, eventRows, labelFor } from '../../../src/cli/output/describe.js';

const now = Date.parse('2025-01-01T01:00:00Z');

const container = {
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: {
    name: 'web',
    namespace: 'default',
    uid: 'u-1',
    resourceVersion: '42',
    generation: 2,
    creationTimestamp: '2025-01-01T00:00:00Z',
    labels: { app: 'web', tier: 'front' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
  },
  spec: {
    image: 'busybox:latest',
    command: ['sh', '-c'],
    env: [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ],
    nodeSelector: { 'kubernetes.io/hostname': 'n1' },
    ports: [],
  },
  status: {
    phase: 'Running',
    containerID: 'abc',
    observedGeneration: 2,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Started', lastTransitionTime: '2025-01-01T00:55:00Z', message: 'running' }],
  },
};

describe('labelFor', () => {
  it('title-cases camelCase keys, with acronyms upper case, and leaves other keys alone', () => {
    expect(labelFor('observedGeneration')).toBe('Observed Generation');
    expect(labelFor('containerID')).toBe('Container ID');
    expect(labelFor('ip')).toBe('IP');
    expect(labelFor('restartCount')).toBe('Restart Count');
    expect(labelFor('kubernetes.io/hostname')).toBe('kubernetes.io/hostname');
  });
});

describe('describeObject', () => {
  const text = describeObject({ object: container, events: [], now });

  it('starts with aligned metadata', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe('Name:              web');
    expect(lines[1]).toBe('Namespace:         default');
    expect(lines[2]).toBe('Labels:            app=web');
    expect(lines[3]).toBe('                   tier=front');
    expect(lines[4]).toBe('Annotations:       <none>');
    expect(text).toContain('Created:           2025-01-01T00:00:00Z (60m ago)');
    expect(text).toContain('Resource Version:  42');
  });

  it('prints spec and status as indented blocks, lists of maps with dashes', () => {
    expect(text).toContain('Spec:\n  Image:  busybox:latest\n  Command:\n    sh\n    -c\n  Env:\n    - Name:   A\n      Value:  1\n    - Name:   B\n      Value:  2\n');
    expect(text).toContain('  Node Selector:\n    kubernetes.io/hostname:  n1\n');
    expect(text).toContain('  Ports:  <none>');
    expect(text).toContain('Status:\n  Phase:                Running\n  Container ID:         abc\n  Observed Generation:  2\n');
  });

  it('puts conditions in a table, not in the status block', () => {
    expect(text).toContain('Conditions:\n  Type   Status  Reason   Age  Message\n  ----   ------  ------   ---  -------\n  Ready  True    Started  5m   running\n');
    expect(text.match(/Conditions/g)).toHaveLength(1);
  });

  it('says <none> without events, and why when they could not be read', () => {
    expect(text.trimEnd().endsWith('Events:  <none>')).toBe(true);
    expect(describeObject({ object: container, events: undefined, eventsError: 'boom', now })).toContain('Events:  <unavailable: boom>');
  });

  it('lists events oldest first with type, reason, age, source and message', () => {
    const withEvents = describeObject({
      object: container,
      now,
      events: [
        { type: 'Warning', reason: 'BackOff', message: 'restarting', lastTimestamp: '2025-01-01T00:59:00Z', firstTimestamp: '2025-01-01T00:50:00Z', count: 4, source: { component: 'berth-agent', host: 'n1' } },
        { type: 'Normal', reason: 'Pulled', message: 'pulled busybox', lastTimestamp: '2025-01-01T00:40:00Z', reportingComponent: 'agent' },
      ],
    });
    const section = withEvents.slice(withEvents.indexOf('Events:\n')).split('\n').slice(1, 5);
    expect(section.map((l) => l.trim().split(/\s{2,}/))).toEqual([
      ['Type', 'Reason', 'Age', 'From', 'Message'],
      ['----', '------', '---', '----', '-------'],
      ['Normal', 'Pulled', '20m', 'agent', 'pulled busybox'],
      ['Warning', 'BackOff', '60s (x4 over 10m)', 'berth-agent, n1', 'restarting'],
    ]);
    // Columns line up: every row has its Reason at the same offset.
    expect(new Set(section.map((l) => l.indexOf(l.trim().split(/\s{2,}/)[1] as string))).size).toBe(1);
  });

  it('eventRows falls back to eventTime and metadata times', () => {
    expect(eventRows([{ reason: 'X', eventTime: '2025-01-01T00:58:00.000000Z' }], now)[0]).toEqual(['', 'X', '2m', '', '']);
    expect(eventRows([{ reason: 'Y', metadata: { creationTimestamp: '2025-01-01T00:59:30Z' } }], now)[0]?.[2]).toBe('30s');
  });
});
