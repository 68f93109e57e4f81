/** Which node the image verbs talk to when no --node is given. */
import { describe, expect, it } from 'vitest';
import { thisMachinesNode, type NodeSummary } from '../../../src/client/node-choice.js';

const node = (name: string, extra: Partial<NodeSummary> = {}): NodeSummary => ({ name, ready: true, schedulable: true, ...extra });

describe('thisMachinesNode', () => {
  it('is the node named like this host, else the one reporting it as Hostname, else the only one with this machine-id', () => {
    expect(thisMachinesNode([node('a'), node('vm')], 'vm', 'm1')?.name).toBe('vm');
    expect(thisMachinesNode([node('a'), node('b', { hostname: 'VM' })], 'vm', 'm1')?.name).toBe('b');
    expect(thisMachinesNode([node('a', { machineID: 'm2' }), node('b', { machineID: 'm1' })], 'vm', 'm1')?.name).toBe('b');
  });

  it('is none when nothing points at this machine, or when several nodes share its machine-id', () => {
    expect(thisMachinesNode([node('a'), node('b')], 'vm', 'm1')).toBeUndefined();
    expect(thisMachinesNode([node('a', { machineID: 'm1' }), node('b', { machineID: 'm1' })], 'vm', 'm1')).toBeUndefined();
    expect(thisMachinesNode([node('a', { machineID: 'm1' })], 'vm', undefined)).toBeUndefined();
  });
});
