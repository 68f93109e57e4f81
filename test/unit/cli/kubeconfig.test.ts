import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultDataDir } from '../../../src/cli/data-dir.js';
import { findKubeconfig, loadKubeConfig, namespaceFor } from '../../../src/cli/kubeconfig.js';

describe('defaultDataDir', () => {
  it('is /var/lib/berth for root, else under XDG_DATA_HOME or ~/.local/share', () => {
    expect(defaultDataDir({}, 0)).toBe('/var/lib/berth');
    expect(defaultDataDir({ XDG_DATA_HOME: '/x' }, 1000)).toBe('/x/berth');
    expect(defaultDataDir({ HOME: '/home/u' }, 1000)).toBe('/home/u/.local/share/berth');
  });
});

describe('findKubeconfig', () => {
  const exists = (present: string[]) => (p: string) => present.includes(p);

  it('takes --kubeconfig first, then $KUBECONFIG, then <data-dir>/kubeconfig, then ~/.kube/config', () => {
    const env = { KUBECONFIG: `/a${delimiter}/b`, HOME: '/h' };
    const all = exists(['/d/kubeconfig', '/h/.kube/config']);
    expect(findKubeconfig({ flag: '/f', dataDir: '/d', env, exists: all })).toEqual({ files: ['/f'], from: 'flag' });
    expect(findKubeconfig({ dataDir: '/d', env, exists: all })).toEqual({ files: ['/a', '/b'], from: 'env' });
    expect(findKubeconfig({ dataDir: '/d', env: { HOME: '/h' }, exists: all })).toEqual({ files: ['/d/kubeconfig'], from: 'data-dir' });
    expect(findKubeconfig({ dataDir: '/d', env: { HOME: '/h' }, exists: exists(['/h/.kube/config']) })).toEqual({ files: ['/h/.kube/config'], from: 'home' });
  });

  it('says where it looked when there is none', () => {
    expect(() => findKubeconfig({ dataDir: '/d', env: { HOME: '/h' }, exists: exists([]) })).toThrow(
      /no kubeconfig found: .*looked for \/d\/kubeconfig and \/h\/.kube\/config/,
    );
  });
});

describe('loadKubeConfig', () => {
  let dir: string;
  const config = (ns?: string) => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx
  context: {cluster: c, user: u${ns ? `, namespace: ${ns}` : ''}}
- name: other
  context: {cluster: c, user: u}
current-context: ctx
`;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-kc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the file, honours --context, and takes the namespace from the context', async () => {
    await writeFile(join(dir, 'kubeconfig'), config('team'));
    const kc = loadKubeConfig({ 'data-dir': dir });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(namespaceFor(kc, undefined)).toBe('team');
    expect(namespaceFor(kc, 'x')).toBe('x');
    const other = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig'), context: 'other' });
    expect(namespaceFor(other, undefined)).toBe('default');
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig'), context: 'nope' })).toThrow('context "nope" does not exist in the kubeconfig');
  });

  it('names a missing or broken file', async () => {
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'missing') })).toThrow(/does not exist/);
    await writeFile(join(dir, 'broken'), 'clusters: [');
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'broken') })).toThrow(/cannot load kubeconfig/);
  });
});
