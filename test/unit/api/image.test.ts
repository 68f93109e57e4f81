import { describe, expect, it } from 'vitest';
import { applyImageDefaults, image, imageKind, imageStatus, shortDigestOf } from '../../../src/api/image.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { badFields, causesOf, meta } from './helpers.js';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

const minimal = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Image',
  metadata: meta('busybox'),
  spec: { ref: 'busybox:1.36', ...spec },
});

describe('Image schema', () => {
  it('defaults to pulling, IfNotPresent', () => {
    const out = applyImageDefaults(minimal() as ApiObject);
    expect(out.spec).toEqual({ ref: 'busybox:1.36', source: { pull: {} }, pullPolicy: 'IfNotPresent' });
  });

  it('accepts each source, with build defaults filled in', () => {
    const pull = minimal({ source: { pull: { secretRef: { name: 'regcred' } } }, pullPolicy: 'Always', nodeName: 'n1' });
    expect(image.safeParse(pull).success).toBe(true);

    const build = applyImageDefaults(
      minimal({
        ref: 'registry.local:5000/app:dev',
        source: {
          build: {
            context: { git: { url: 'https://example.com/app.git', ref: 'main', path: 'docker' } },
            buildArgs: { VERSION: '1.2' },
            target: 'runtime',
            noCache: true,
          },
        },
      }) as ApiObject,
    );
    expect((build.spec as { source: unknown }).source).toEqual({
      build: {
        context: { git: { url: 'https://example.com/app.git', ref: 'main', path: 'docker' } },
        buildArgs: { VERSION: '1.2' },
        target: 'runtime',
        noCache: true,
        dockerfile: 'Dockerfile',
        network: 'none',
      },
    });
    expect(image.safeParse(minimal({ source: { build: { context: { dir: '/srv/app' }, dockerfile: 'build/Dockerfile' } } })).success).toBe(true);
    expect(image.safeParse(minimal({ source: { import: { path: '/tmp/rootfs.tar', format: 'rootfs', changes: ['CMD ["/bin/sh"]'] } } })).success).toBe(true);
    expect(image.safeParse(minimal({ source: { import: { url: 'https://example.com/img.tar' } } })).success).toBe(true);
    expect(image.safeParse(minimal({ ref: `busybox@${digest}` })).success).toBe(true);
  });

  it('wants exactly one source, one context and one import location', () => {
    expect(causesOf(image, minimal({ source: { pull: {}, build: { context: { dir: '/x' } } } }))).toEqual([
      {
        reason: 'FieldValueForbidden',
        field: 'spec.source',
        message: 'exactly one of pull, build, import must be set, found pull and build',
      },
    ]);
    expect(causesOf(image, minimal({ source: {} }))).toEqual([
      { reason: 'FieldValueRequired', field: 'spec.source', message: 'exactly one of pull, build, import must be set' },
    ]);
    expect(badFields(image, minimal({ source: { build: { context: { dir: '/x', git: { url: 'u' } } } } }))).toEqual([
      'spec.source.build.context',
    ]);
    expect(badFields(image, minimal({ source: { build: {} } }))).toEqual(['spec.source.build.context']);
    expect(badFields(image, minimal({ source: { import: {} } }))).toEqual(['spec.source.import']);
  });

  it('names the bad field', () => {
    expect(badFields(image, minimal({ ref: 'library/BusyBox' }))).toEqual(['spec.ref']);
    expect(badFields(image, minimal({ pullPolicy: 'Sometimes' }))).toEqual(['spec.pullPolicy']);
    expect(badFields(image, minimal({ source: { import: { path: 'relative.tar' } } }))).toEqual(['spec.source.import.path']);
    expect(badFields(image, minimal({ source: { import: { url: 'ftp://x/y.tar' } } }))).toEqual(['spec.source.import.url']);
    expect(badFields(image, minimal({ source: { build: { context: { dir: '/x' }, dockerfile: '../Dockerfile' } } }))).toEqual([
      'spec.source.build.dockerfile',
    ]);
    expect(badFields(image, minimal({ source: { build: { context: { git: { url: 'has space' } } } } }))).toEqual([
      'spec.source.build.context.git.url',
    ]);
    expect(badFields(image, minimal({ source: { build: { context: { dir: '/x' }, buildArgs: { 'BAD-ARG': 'x' } } } }))).toEqual([
      'spec.source.build.buildArgs[BAD-ARG]',
    ]);
    expect(badFields(image, minimal({ source: { pull: { secret: 'x' } } }))).toEqual(['spec.source.pull.secret']);
  });

  it('validates status with per-node presence keyed by node', () => {
    const status = {
      phase: 'Ready',
      sourceType: 'Pull',
      digest,
      shortDigest: shortDigestOf(digest),
      id: digest,
      size: 1234,
      layers: [{ digest, size: 1234 }],
      config: { cmd: ['sh'], env: ['PATH=/bin'] },
      nodes: [{ nodeName: 'n1', present: true, digest, pulledAt: '2025-01-01T00:00:00Z' }],
      buildLog: ['Step 1/2 : FROM scratch'],
      observedGeneration: 2,
    };
    expect(imageStatus.safeParse(status).success).toBe(true);
    expect(badFields(imageStatus, { ...status, nodes: [{ nodeName: 'n1', present: true }, { nodeName: 'n1', present: false }] })).toEqual([
      'nodes[1].nodeName',
    ]);
    expect(badFields(imageStatus, { digest: 'sha256:nothex' })).toEqual(['digest']);
    expect(badFields(imageStatus, { phase: 'Done' })).toEqual(['phase']);
  });

  it('shortens digests for display', () => {
    expect(shortDigestOf(digest)).toBe('0123456789ab');
    expect(shortDigestOf('abcdef0123456789')).toBe('abcdef012345');
  });

  it('describes itself', () => {
    expect(imageKind).toMatchObject({ kind: 'Image', plural: 'images', shortNames: ['img'], selectableFields: ['spec.nodeName'] });
    expect(imageKind.listMapKeys).toEqual({ 'status.nodes': ['nodeName'], 'status.conditions': ['type'] });
    expect(imageKind.printerColumns.map((c) => c.name)).toEqual(['Ref', 'Phase', 'Digest', 'Size', 'Age', 'Source']);
  });
});
