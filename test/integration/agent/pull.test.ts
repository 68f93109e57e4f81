/** Image objects with source.pull: the agent pulls from a real registry (Berth's own, on loopback). */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { Distribution } from '../../../src/runtime/distribution/index.js';
import { Runtime } from '../../../src/runtime/index.js';
import { containerManifest, GV, phaseOf, runtimeSkipReason, startTestNode, statusOf, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent pull tests: ${skip}`);

describe.skipIf(!!skip)('agent pulls Images', () => {
  let t: TestNode;
  let reg: RunningRegistry;
  let ref = '';
  const POLL = { timeout: 30_000, interval: 200 };

  beforeAll(async () => {
    t = await startTestNode();
    reg = await startRegistry({ dataDir: join(t.dir, 'registry'), listen: '127.0.0.1:0', auth: 'off' });
    // Publish busybox from a separate runtime root, as another machine would.
    const source = new Runtime({ root: join(t.dir, 'publisher') });
    await source.importImage(t.tarball, { ref: 'busybox:pulled', changes: { Cmd: ['sh'] } });
    ref = `127.0.0.1:${reg.port}/library/busybox:pulled`;
    await source.images.tag('busybox:pulled', ref);
    const dist = new Distribution({ images: source.images, root: source.root, credentialsPath: join(t.dir, 'creds.json') });
    await dist.push(ref);
  });
  afterAll(async () => {
    await reg?.close();
    await t?.cleanup();
  });

  it('pulls an Image, reports its digest, and runs a Container from it', async () => {
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'pulled', namespace: 'default' }, spec: { ref } });
    await expect.poll(async () => phaseOf(await t.client.get('images', 'default', 'pulled')), POLL).toBe('Ready');
    const img = await t.client.get('images', 'default', 'pulled');
    expect(String(statusOf(img).digest)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await t.node.runtime!.images.exists(ref)).toBe(true);

    await t.apply(containerManifest('from-pull', { image: ref, command: ['sh', '-c', 'echo pulled; sleep 3600'] }));
    await expect.poll(async () => phaseOf(await t.container('from-pull')), POLL).toBe('Running');
  });

  it('reports a pull that cannot succeed with ErrImagePull and backs off, creating nothing', async () => {
    const missing = `127.0.0.1:${reg.port}/library/nothing:here`;
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'missing', namespace: 'default' }, spec: { ref: missing } });
    await expect
      .poll(async () => {
        const st = statusOf(await t.client.get('images', 'default', 'missing')) as { conditions?: { type: string; reason?: string; message?: string }[] };
        return st.conditions?.find((c) => c.type === 'Ready')?.reason;
      }, POLL)
      .toMatch(/^(ErrImagePull|ImagePullBackOff)$/);
    const st = statusOf(await t.client.get('images', 'default', 'missing')) as { conditions: { type: string; message?: string }[] };
    expect(st.conditions.find((c) => c.type === 'Ready')?.message).toContain('nothing:here');
    expect(await t.node.runtime!.images.exists(missing)).toBe(false);
  });

  it('pulls from a registry that needs a login with the credentials of a referenced Secret', async () => {
    const privateReg = await startRegistry({ dataDir: join(t.dir, 'private'), listen: '127.0.0.1:0', auth: 'on' });
    try {
      await privateReg.users.setPassword('puller', 's3cret', 4);
      const host = `127.0.0.1:${privateReg.port}`;
      const privateRef = `${host}/team/busybox:private`;
      const publisher = new Runtime({ root: join(t.dir, 'publisher') });
      await publisher.images.tag('busybox:pulled', privateRef);
      const creds = join(t.dir, 'publisher-creds.json');
      const dist = new Distribution({ images: publisher.images, root: publisher.root, credentialsPath: creds });
      await dist.login(host, { username: 'puller', password: 's3cret' });
      await dist.push(privateRef);

      const reason = async (name: string) => {
        const st = statusOf(await t.client.get('images', 'default', name)) as { conditions?: { type: string; reason?: string; message?: string }[] };
        return st.conditions?.find((c) => c.type === 'Ready');
      };
      // Without the Secret the node has no login: the pull is refused.
      await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'no-secret', namespace: 'default' }, spec: { ref: privateRef } });
      await expect.poll(async () => (await reason('no-secret'))?.reason, POLL).toMatch(/^(ErrImagePull|ImagePullBackOff)$/);

      const dockerconfig = { auths: { [host]: { auth: Buffer.from('puller:s3cret').toString('base64') } } };
      const res = await t.api('/api/v1/namespaces/default/secrets', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': JSON.stringify(dockerconfig) } }),
      });
      expect(res.status).toBe(201);
      const stored = (await res.json()) as { data: Record<string, string>; stringData?: unknown };
      expect(stored.stringData).toBeUndefined();
      expect(JSON.parse(Buffer.from(stored.data['.dockerconfigjson']!, 'base64').toString())).toEqual(dockerconfig);

      await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'with-secret', namespace: 'default' }, spec: { ref: privateRef, source: { pull: { secretRef: { name: 'regcred' } } } } });
      await expect.poll(async () => phaseOf(await t.client.get('images', 'default', 'with-secret')), POLL).toBe('Ready');

      await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'bad-secret', namespace: 'default' }, spec: { ref: `${host}/team/busybox:absent`, source: { pull: { secretRef: { name: 'nope' } } } } });
      await expect.poll(async () => (await reason('bad-secret'))?.message ?? '', POLL).toContain('secret "nope" not found');
    } finally {
      await privateReg.close();
    }
  });

  it('refuses to pull with pullPolicy Never', async () => {
    const never = `127.0.0.1:${reg.port}/library/busybox:never`;
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'never', namespace: 'default' }, spec: { ref: never, pullPolicy: 'Never' } });
    await expect
      .poll(async () => {
        const st = statusOf(await t.client.get('images', 'default', 'never')) as { conditions?: { type: string; reason?: string }[] };
        return st.conditions?.find((c) => c.type === 'Ready')?.reason;
      }, POLL)
      .toBe('ErrImageNeverPull');
  });
});
