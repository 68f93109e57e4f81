import { describe, expect, it } from 'vitest';
import {
  applyContainerDefaults,
  container,
  containerKind,
  containerStatus,
  type ContainerInput,
} from '../../../src/api/container.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { badFields, causesOf, meta } from './helpers.js';

const minimal = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: meta('web'),
  spec: { image: 'busybox', ...spec },
});

describe('Container schema', () => {
  it('accepts a full docker-run style spec', () => {
    const full: ContainerInput = {
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'Container',
      metadata: { name: 'httpd', namespace: 'default', labels: { app: 'web' } },
      spec: {
        image: 'registry.example:5000/team/busybox:1.36',
        command: ['/bin/httpd'],
        args: ['-f', '-p', '8080'],
        env: [{ name: 'MODE', value: 'prod' }, { name: 'EMPTY' }],
        workingDir: '/srv',
        user: '1000:1000',
        hostname: 'web-1',
        tty: false,
        stdin: true,
        ports: [
          { containerPort: 8080, hostPort: 80 },
          { containerPort: 8080, protocol: 'UDP', hostIP: '127.0.0.1' },
        ],
        volumeMounts: [
          { name: 'data', mountPath: '/srv/data' },
          { hostPath: '/etc/hosts', mountPath: '/etc/hosts', readOnly: true },
          { name: 'cfg', mountPath: '/etc/app', subPath: 'app/conf' },
        ],
        volumesFrom: ['other', 'seed:ro'],
        resources: { limits: { cpu: '500m', memory: '256Mi', pids: 100 }, requests: { cpu: 0.25 } },
        readOnlyRootFilesystem: true,
        capAdd: ['NET_ADMIN'],
        capDrop: ['ALL'],
        restartPolicy: 'OnFailure',
        state: 'Paused',
        stopSignal: 'SIGQUIT',
        stopGracePeriodSeconds: 30,
        network: 'bridge',
        networks: [{ name: 'backend', aliases: ['db'], ipv4Address: '10.89.0.10' }],
        nodeName: 'node-1',
        nodeSelector: { 'example.com/disk': 'ssd' },
      },
      status: {
        phase: 'Running',
        containerID: 'abc123',
        pid: 4242,
        startedAt: '2025-01-02T03:04:05Z',
        restartCount: 0,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-01-02T03:04:05Z' }],
        observedGeneration: 1,
      },
    };
    const r = container.safeParse(full);
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  });

  it('applies defaults beside the schema', () => {
    const out = applyContainerDefaults(minimal({ ports: [{ containerPort: 80 }] }) as ApiObject);
    expect(out.spec).toMatchObject({
      restartPolicy: 'Always',
      state: 'Running',
      stopGracePeriodSeconds: 10,
      network: 'bridge',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
    });
    // The ref is kept as written: the default tag is the consumers' business.
    expect((out.spec as { image: string }).image).toBe('busybox');
  });

  it('defaulting is pure and leaves invalid objects as they are', () => {
    const input = minimal();
    const before = structuredClone(input);
    const out = applyContainerDefaults(input as ApiObject);
    expect(input).toEqual(before);
    expect(out).not.toBe(input);

    const bad = minimal({ restartPolicy: 'Sometimes' });
    const same = applyContainerDefaults(bad as ApiObject);
    expect(same).toEqual(bad);
    expect(same).not.toBe(bad);
  });

  it('rejects unknown fields, naming them', () => {
    const causes = causesOf(container, { ...minimal({ imagePullPolicy: 'Always' }), extra: 1 });
    expect(causes).toEqual(
      expect.arrayContaining([
        { reason: 'FieldValueInvalid', field: 'spec.imagePullPolicy', message: 'unknown field "imagePullPolicy"' },
        { reason: 'FieldValueInvalid', field: 'extra', message: 'unknown field "extra"' },
      ]),
    );
    expect(badFields(container, minimal({ ports: [{ containerPort: 80, nodePort: 1 }] }))).toEqual(['spec.ports[0].nodePort']);
    expect(badFields(container, minimal({ resources: { limits: { gpu: 1 } } }))).toEqual(['spec.resources.limits.gpu']);
  });

  it('requires an image and reports it as a required value', () => {
    const input = minimal();
    delete (input.spec as Record<string, unknown>).image;
    expect(causesOf(container, input)).toEqual([{ reason: 'FieldValueRequired', field: 'spec.image', message: 'Required value' }]);
    expect(badFields(container, { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: meta('x') })).toEqual(['spec']);
  });

  it('checks image references', () => {
    for (const image of ['Busybox', 'busybox:', 'busy box', ':tag', 'busybox@sha256:short', '-busybox']) {
      expect(badFields(container, minimal({ image })), image).toContain('spec.image');
    }
    for (const image of ['busybox', 'library/busybox:1.36', 'localhost:5000/a/b', `busybox@sha256:${'a'.repeat(64)}`]) {
      expect(container.safeParse(minimal({ image })).success, image).toBe(true);
    }
  });

  it('wants absolute mount paths without ..', () => {
    expect(badFields(container, minimal({ volumeMounts: [{ name: 'data', mountPath: 'data' }] }))).toEqual([
      'spec.volumeMounts[0].mountPath',
    ]);
    expect(badFields(container, minimal({ volumeMounts: [{ name: 'd', mountPath: '/a/../etc' }] }))).toEqual([
      'spec.volumeMounts[0].mountPath',
    ]);
    expect(badFields(container, minimal({ volumeMounts: [{ hostPath: 'rel', mountPath: '/a' }] }))).toEqual([
      'spec.volumeMounts[0].hostPath',
    ]);
    expect(badFields(container, minimal({ volumeMounts: [{ name: 'd', mountPath: '/a', subPath: '../up' }] }))).toEqual([
      'spec.volumeMounts[0].subPath',
    ]);
    expect(badFields(container, minimal({ workingDir: 'srv' }))).toEqual(['spec.workingDir']);
  });

  it('wants exactly one of name and hostPath in a volume mount', () => {
    const both = causesOf(container, minimal({ volumeMounts: [{ name: 'd', hostPath: '/d', mountPath: '/d' }] }));
    expect(both).toEqual([
      {
        reason: 'FieldValueForbidden',
        field: 'spec.volumeMounts[0]',
        message: 'exactly one of name, hostPath must be set, found name and hostPath',
      },
    ]);
    const neither = causesOf(container, minimal({ volumeMounts: [{ mountPath: '/d' }] }));
    expect(neither).toEqual([
      { reason: 'FieldValueRequired', field: 'spec.volumeMounts[0]', message: 'exactly one of name, hostPath must be set' },
    ]);
  });

  it('rejects duplicate list-map keys', () => {
    const env = causesOf(container, minimal({ env: [{ name: 'A', value: '1' }, { name: 'B' }, { name: 'A', value: '2' }] }));
    expect(env).toHaveLength(1);
    expect(env[0]).toMatchObject({ reason: 'FieldValueDuplicate', field: 'spec.env[2].name' });
    expect(env[0]!.message).toContain('item 0');
    // Same port on TCP and UDP is fine; the default protocol counts as TCP.
    expect(container.safeParse(minimal({ ports: [{ containerPort: 53 }, { containerPort: 53, protocol: 'UDP' }] })).success).toBe(true);
    expect(badFields(container, minimal({ ports: [{ containerPort: 53 }, { containerPort: 53, protocol: 'TCP' }] }))).toEqual([
      'spec.ports[1].containerPort',
    ]);
    expect(
      badFields(container, minimal({ volumeMounts: [{ name: 'a', mountPath: '/x' }, { name: 'b', mountPath: '/x' }] })),
    ).toEqual(['spec.volumeMounts[1].mountPath']);
  });

  it('checks enums, numbers and formats with the field named', () => {
    expect(causesOf(container, minimal({ restartPolicy: 'Sometimes' }))[0]).toMatchObject({
      reason: 'FieldValueNotSupported',
      field: 'spec.restartPolicy',
    });
    expect(badFields(container, minimal({ state: 'Exited' }))).toEqual(['spec.state']);
    expect(badFields(container, minimal({ network: 'overlay' }))).toEqual(['spec.network']);
    expect(badFields(container, minimal({ ports: [{ containerPort: 70000 }] }))).toEqual(['spec.ports[0].containerPort']);
    expect(badFields(container, minimal({ ports: [{ containerPort: 80, hostIP: 'localhost' }] }))).toEqual(['spec.ports[0].hostIP']);
    expect(badFields(container, minimal({ stopGracePeriodSeconds: -1 }))).toEqual(['spec.stopGracePeriodSeconds']);
    expect(badFields(container, minimal({ resources: { limits: { cpu: '1.5 cores' } } }))).toEqual(['spec.resources.limits.cpu']);
    expect(badFields(container, minimal({ resources: { limits: { memory: -1 } } }))).toEqual(['spec.resources.limits.memory']);
    expect(badFields(container, minimal({ env: [{ name: 'A=B' }] }))).toEqual(['spec.env[0].name']);
    expect(badFields(container, minimal({ user: 'a:b:c' }))).toEqual(['spec.user']);
    expect(badFields(container, minimal({ capAdd: ['net admin'] }))).toEqual(['spec.capAdd[0]']);
    expect(badFields(container, minimal({ volumesFrom: ['data:rx'] }))).toEqual(['spec.volumesFrom[0]']);
    expect(badFields(container, minimal({ stopSignal: 'kill -9' }))).toEqual(['spec.stopSignal']);
    expect(badFields(container, minimal({ nodeSelector: { 'bad key!': 'x' } }))).toEqual(['spec.nodeSelector[bad key!]']);
    expect(badFields(container, { ...minimal(), apiVersion: 'v1' })).toEqual(['apiVersion']);
    expect(badFields(container, { ...minimal(), kind: 'Pod' })).toEqual(['kind']);
  });

  it('validates status strictly', () => {
    expect(containerStatus.safeParse({ phase: 'Exited', exitCode: 137, reason: 'OOMKilled', finishedAt: '2025-01-01T00:00:00.123Z' }).success).toBe(true);
    expect(badFields(containerStatus, { phase: 'Dead' })).toEqual(['phase']);
    expect(badFields(containerStatus, { startedAt: 'yesterday' })).toEqual(['startedAt']);
    expect(badFields(containerStatus, { restartCount: -1 })).toEqual(['restartCount']);
    expect(badFields(containerStatus, { conditions: [{ type: 'Ready', status: 'Yes' }] })).toEqual(['conditions[0].status']);
    expect(badFields(containerStatus, { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Ready', status: 'False' }] })).toEqual([
      'conditions[1].type',
    ]);
    expect(badFields(containerStatus, { exitcode: 1 })).toEqual(['exitcode']);
  });

  it('describes itself for the API server and CLI', () => {
    expect(containerKind).toMatchObject({
      group: 'berth.dev',
      version: 'v1alpha1',
      kind: 'Container',
      plural: 'containers',
      shortNames: ['ctr'],
      namespaced: true,
      hasStatus: true,
      selectableFields: ['spec.nodeName', 'status.phase'],
    });
    expect(containerKind.listMapKeys).toEqual({
      'spec.env': ['name'],
      'spec.networks': ['name'],
      'spec.ports': ['containerPort', 'protocol'],
      'spec.volumeMounts': ['mountPath'],
      'status.conditions': ['type'],
    });
    expect(containerKind.printerColumns.filter((c) => !c.priority).map((c) => c.name)).toEqual([
      'Image',
      'State',
      'Restarts',
      'Node',
      'Age',
    ]);
    expect(containerKind.printerColumns.filter((c) => c.priority).map((c) => c.name)).toEqual([
      'ContainerID',
      'Exit Code',
      'Reason',
    ]);
  });
});
