import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/api/fields.js';
import { normalizeImageRef, parseImageRef, withDefaultTag } from '../../../src/api/imageref.js';
import { cpuMillis, parseQuantity, quantityInt } from '../../../src/api/quantity.js';
import { fieldPath, formatCauses, issuesToCauses } from '../../../src/api/validation.js';
import { container } from '../../../src/api/container.js';

const dig = `sha256:${'ab'.repeat(32)}`;

describe('image references', () => {
  it('parses the distribution grammar', () => {
    expect(parseImageRef('busybox')).toEqual({ path: 'busybox' });
    expect(parseImageRef('busybox:1.36')).toEqual({ path: 'busybox', tag: '1.36' });
    expect(parseImageRef('library/busybox')).toEqual({ path: 'library/busybox' });
    expect(parseImageRef('localhost/app')).toEqual({ domain: 'localhost', path: 'app' });
    expect(parseImageRef('localhost:5000/team/app:v1')).toEqual({ domain: 'localhost:5000', path: 'team/app', tag: 'v1' });
    expect(parseImageRef('registry.example.com/a/b/c')).toEqual({ domain: 'registry.example.com', path: 'a/b/c' });
    expect(parseImageRef(`app:v1@${dig}`)).toEqual({ path: 'app', tag: 'v1', digest: dig });
    expect(parseImageRef('[::1]:5000/app')).toEqual({ domain: '[::1]:5000', path: 'app' });
    for (const bad of ['', 'Busybox', 'a//b', 'app:', 'app@sha256:123', 'a b', '/app', 'app/', `app:${'x'.repeat(129)}`]) {
      expect(parseImageRef(bad), bad).toBeUndefined();
    }
  });

  it('applies the default tag and Docker normalisation', () => {
    expect(withDefaultTag('busybox')).toBe('busybox:latest');
    expect(withDefaultTag('localhost:5000/app')).toBe('localhost:5000/app:latest');
    expect(withDefaultTag('busybox:1.36')).toBe('busybox:1.36');
    expect(withDefaultTag(`busybox@${dig}`)).toBe(`busybox@${dig}`);
    expect(normalizeImageRef('busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeImageRef('team/app:v2')).toBe('docker.io/team/app:v2');
    expect(normalizeImageRef('quay.io/org/app')).toBe('quay.io/org/app:latest');
    expect(normalizeImageRef(`busybox@${dig}`)).toBe(`docker.io/library/busybox@${dig}`);
    expect(() => withDefaultTag('Not Valid')).toThrow(/invalid image reference/);
  });
});

describe('quantities and durations', () => {
  it('parses quantities', () => {
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity(1.5)).toBe(1.5);
    expect(parseQuantity('512Mi')).toBe(512 * 1024 * 1024);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(cpuMillis('1.5')).toBe(1500);
    expect(cpuMillis('250m')).toBe(250);
    expect(cpuMillis(0.1)).toBe(100);
    expect(quantityInt('1.5Ki')).toBe(1536);
    expect(() => parseQuantity('lots')).toThrow(/invalid quantity/);
    expect(() => parseQuantity(-1)).toThrow(/invalid quantity/);
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
  });
});

describe('validation causes', () => {
  it('formats field paths the Kubernetes way', () => {
    expect(fieldPath(['spec', 'volumeMounts', 0, 'mountPath'])).toBe('spec.volumeMounts[0].mountPath');
    expect(fieldPath(['metadata', 'labels', 'app.kubernetes.io/name'])).toBe('metadata.labels[app.kubernetes.io/name]');
    expect(fieldPath([])).toBe('');
  });

  it('turns zod issues into causes and a readable line', () => {
    const r = container.safeParse({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'Container',
      metadata: { name: 'x' },
      spec: { image: 'busybox', volumeMounts: [{ name: 'd', mountPath: 'rel' }], bogus: true },
    });
    expect(r.success).toBe(false);
    const causes = issuesToCauses(r.error!.issues);
    expect(causes.map((c) => c.field).sort()).toEqual(['spec.bogus', 'spec.volumeMounts[0].mountPath']);
    expect(formatCauses(causes)).toMatch(/spec\.volumeMounts\[0\]\.mountPath: must be an absolute path/);
    expect(formatCauses(causes)).toMatch(/spec\.bogus: unknown field "bogus"/);
  });
});
