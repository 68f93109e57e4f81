import { describe, expect, it } from 'vitest';
import { scrub } from '../../../src/client/gitops/git.js';
import { isManifestPath, toObjects, type RenderOptions } from '../../../src/client/gitops/render.js';
import { parseLsRemote, resolveRef, safeTreePath } from '../../../src/client/gitops/source.js';
import { credentialsFrom } from '../../../src/client/gitops/credentials.js';
import { allResourceTypes } from '../../../src/client/kinds.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);

describe('ls-remote and refs', () => {
  const text = [`ref: refs/heads/main\tHEAD`, `${A}\tHEAD`, `${A}\trefs/heads/main`, `${B}\trefs/heads/release`, `${C}\trefs/tags/v1.2.0`, `${D}\trefs/tags/v1.2.0^{}`, `${B}\trefs/tags/v1.10.0`, `${A}\trefs/tags/v2.0.0`, `${A}\trefs/tags/nightly`].join('\n');
  const { refs, head } = parseLsRemote(text);

  it('reads refs, peels annotated tags and finds the default branch', () => {
    expect(head).toBe('refs/heads/main');
    expect(refs.get('refs/tags/v1.2.0')).toBe(D);
  });

  it('resolves the default branch, a branch, a tag, a commit and a semver range', () => {
    expect(resolveRef(refs, head, undefined)).toEqual({ revision: A, ref: 'refs/heads/main' });
    expect(resolveRef(refs, head, 'release')).toEqual({ revision: B, ref: 'refs/heads/release' });
    expect(resolveRef(refs, head, 'v1.2.0')).toEqual({ revision: D, ref: 'refs/tags/v1.2.0' });
    expect(resolveRef(refs, head, C)).toEqual({ revision: C, ref: C });
    expect(resolveRef(refs, head, '^1.0.0')).toEqual({ revision: B, ref: 'refs/tags/v1.10.0' });
    expect(resolveRef(refs, head, '~1.2')).toEqual({ revision: D, ref: 'refs/tags/v1.2.0' });
    expect(resolveRef(refs, head, '>=1.0.0 <1.5.0')).toEqual({ revision: D, ref: 'refs/tags/v1.2.0' });
  });

  it('names what it could not resolve', () => {
    expect(() => resolveRef(refs, head, '^3.0.0')).toThrow(/no tag matches the semver range "\^3.0.0"/);
    expect(() => resolveRef(refs, head, 'feature/x')).toThrow(/names no branch, tag or full commit id/);
    expect(() => resolveRef(new Map(), undefined, undefined)).toThrow(/no default branch/);
  });

  it('keeps tree paths inside the root', () => {
    expect(safeTreePath('apps/web.yaml')).toBe(true);
    for (const p of ['../x', 'a/../../x', '/etc/passwd', 'a/./b', '.git/config', 'a//b', 'a\\b']) expect(safeTreePath(p), p).toBe(false);
  });

  it('scrubs credentials a remote could echo in a URL', () => {
    expect(scrub("fatal: unable to access 'https://user:secret@host/r.git/'")).toBe("fatal: unable to access 'https://***@host/r.git/'");
  });
});

describe('credentials from a Secret', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const secret = (data: Record<string, string>) => ({ metadata: { name: 'creds' }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) });
  it('takes a token, username/password, or an SSH key with known_hosts', () => {
    expect(credentialsFrom(secret({ token: 't' }), 'https://h/r')).toEqual({ token: 't' });
    expect(credentialsFrom(secret({ username: 'u', password: 'p' }), 'https://h/r')).toEqual({ username: 'u', password: 'p' });
    expect(credentialsFrom(secret({ identity: 'KEY', known_hosts: 'h ssh-ed25519 AAAA' }), 'git@h:r.git')).toEqual({ identity: 'KEY', knownHosts: 'h ssh-ed25519 AAAA' });
  });
  it('says what is missing', () => {
    expect(credentialsFrom(secret({ identity: 'KEY' }), 'ssh://h/r')).toEqual({ error: expect.stringMatching(/no known_hosts/) });
    expect(credentialsFrom(secret({}), 'https://h/r')).toEqual({ error: expect.stringMatching(/neither token nor username\/password/) });
  });
});

describe('rendering manifests', () => {
  const o: RenderOptions = { owner: { namespace: 'apps', name: 'site' }, defaultNamespace: 'apps', types: allResourceTypes };
  const ctr = (name: string, extra = '') => `apiVersion: berth.dev/v1alpha1\nkind: Container\nmetadata:\n  name: ${name}\n${extra}spec:\n  image: busybox\n`;

  it('keeps file and document order, fills the namespace, stamps the owner and reads waves', () => {
    const r = toObjects('rev', [
      { path: 'a.yaml', text: `${ctr('one')}---\n${ctr('two', '  namespace: other\n  annotations:\n    berth.dev/sync-wave: "-2"\n')}` },
      { path: 'b.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n  namespace: ignored\n' },
    ], o);
    expect(r.errors).toEqual([]);
    expect(r.objects.map((d) => [d.file, d.document, d.key, d.wave])).toEqual([
      ['a.yaml', 0, 'berth.dev/Container/apps/one', 0],
      ['a.yaml', 1, 'berth.dev/Container/other/two', -2],
      ['b.yaml', 0, '/Namespace//other', 0],
    ]);
    expect(r.objects[0]!.object.metadata.annotations).toEqual({ 'berth.dev/gitsync': 'apps/site' });
    expect(r.objects[2]!.object.metadata.namespace).toBeUndefined();
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(toObjects('rev2', [{ path: 'a.yaml', text: `${ctr('one')}---\n${ctr('two', '  namespace: other\n  annotations:\n    berth.dev/sync-wave: "-2"\n')}` }, { path: 'b.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n' }], o).hash).toBe(r.hash);
  });

  it('names the file, document and field of what it cannot use', () => {
    const r = toObjects('rev', [
      { path: 'bad.yaml', text: 'kind: [\n' },
      { path: 'kinds.yaml', text: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\nkind: Container\n---\n${ctr('x', '  annotations:\n    berth.dev/sync-wave: soon\n')}---\napiVersion: berth.dev/v1alpha1\nkind: Container\nmetadata: {}\n` },
      { path: 'dup.yaml', text: `${ctr('one')}---\n${ctr('one')}` },
      { path: 'scalar.yaml', text: 'just text' },
    ], o);
    expect(r.objects.map((d) => d.key)).toEqual(['berth.dev/Container/apps/one']);
    expect(r.hash).toBe('');
    expect(r.errors.map((e) => [e.file, e.document, e.field])).toEqual([
      ['bad.yaml', 0, undefined],
      ['kinds.yaml', 0, 'kind'],
      ['kinds.yaml', 1, 'apiVersion'],
      ['kinds.yaml', 2, 'metadata.annotations["berth.dev/sync-wave"]'],
      ['kinds.yaml', 3, 'metadata.name'],
      ['dup.yaml', 1, 'metadata.name'],
      ['scalar.yaml', 0, undefined],
    ]);
    expect(r.errors[0]!.message).toMatch(/invalid YAML at line \d+: /);
  });

  it('expands Lists, applies Secret stringData as data, and leaves hidden paths out', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s\n  stringData:\n    k: v\n  data:\n    j: ${Buffer.from('w').toString('base64')}\n`;
    const r = toObjects('rev', [{ path: 'l.yaml', text: list }], o);
    expect(r.objects[0]!.object.data).toEqual({ j: Buffer.from('w').toString('base64'), k: Buffer.from('v').toString('base64') });
    expect(r.objects[0]!.object.stringData).toBeUndefined();
    expect(isManifestPath('apps/web.yaml', 'apps')).toBe(true);
    expect(isManifestPath('apps/x.json', 'apps')).toBe(true);
    expect(isManifestPath('.github/workflows/ci.yml', '')).toBe(false);
    expect(isManifestPath('apps/README.md', 'apps')).toBe(false);
  });

  it('refuses alias bombs', () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n`;
    const r = toObjects('rev', [{ path: 'bomb.yaml', text: bomb }], o);
    expect(r.errors[0]).toMatchObject({ file: 'bomb.yaml', document: 0 });
    expect(r.errors[0]!.message).toMatch(/alias/i);
  });
});
