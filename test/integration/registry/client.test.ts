/**
 * The runtime's registry client against a real Berth registry: token auth with saved logins,
 * resumed downloads through a connection-cutting proxy, digest checks, index resolution,
 * mounts, chunked uploads, docker.io normalisation and daemon.json settings.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserDb } from '../../../src/registry/auth.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { endpointsFor, isInsecureRegistry, loadDaemonConfig } from '../../../src/runtime/distribution/config.js';
import { Distribution, parseRemoteReference, RegistryClient } from '../../../src/runtime/distribution/index.js';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, makeTempRoot, runtimeSkipReason } from '../runtime/helpers.js';
import { hasCommand, http } from './helpers.js';
import { tamperingProxy } from './tampering-proxy.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const skip = runtimeSkipReason();

describe.skipIf(skip !== undefined)('registry client (runtime distribution)', () => {
  let work: string;
  let reg: RunningRegistry;
  let host: string;
  let rt: Runtime;
  let dist: Distribution;
  let creds: string;

  beforeAll(async () => {
    work = await makeTempRoot('dist-client');
    await new UserDb(join(work, 'reg', 'registry', 'users')).setPassword('alice', 'pw-alice', 4);
    reg = await startRegistry({ dataDir: join(work, 'reg'), listen: '127.0.0.1:0' });
    host = new URL(reg.url).host;
    rt = new Runtime({ root: join(work, 'rt') });
    await rt.importImage(await busyboxTarball(work), { ref: 'busybox:latest' });
    creds = join(work, 'config.json');
    dist = new Distribution({ images: rt.images, root: rt.root, credentialsPath: creds });
  }, 60_000);
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('normalises Docker Hub short names', () => {
    expect(parseRemoteReference('busybox')).toMatchObject({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest', localName: 'busybox:latest' });
    expect(parseRemoteReference('team/app:v1')).toMatchObject({ registry: 'docker.io', repository: 'team/app', localName: 'team/app:v1' });
    expect(parseRemoteReference('docker.io/library/busybox:1')).toMatchObject({ repository: 'library/busybox', localName: 'busybox:1' });
    expect(parseRemoteReference('localhost:5000/app')).toMatchObject({ registry: 'localhost:5000', repository: 'app', localName: 'localhost:5000/app:latest' });
    expect(parseRemoteReference(`reg.example.com/a/b@${sha('x')}`)).toMatchObject({ registry: 'reg.example.com', repository: 'a/b', digest: sha('x'), tag: undefined });
  });

  it('reads daemon.json mirrors and insecure registries', async () => {
    await writeFile(join(work, 'daemon.json'), JSON.stringify({ 'registry-mirrors': ['https://mirror.example.com'], 'insecure-registries': ['reg.lan:5000', '10.0.0.0/8'] }));
    const cfg = await loadDaemonConfig(join(work, 'daemon.json'));
    expect(isInsecureRegistry('reg.lan:5000', cfg)).toBe(true);
    expect(isInsecureRegistry('10.1.2.3:5000', cfg)).toBe(true);
    expect(isInsecureRegistry('127.0.0.1:5000', cfg)).toBe(true);
    expect(isInsecureRegistry('quay.io', cfg)).toBe(false);
    expect(endpointsFor('docker.io', cfg, 'registry-1.docker.io').map((e) => e.base)).toEqual(['https://mirror.example.com', 'https://registry-1.docker.io']);
    expect(endpointsFor('reg.lan:5000', cfg, 'reg.lan:5000').map((e) => e.base)).toEqual(['http://reg.lan:5000']);
    await writeFile(join(work, 'bad.json'), JSON.stringify({ 'registry-mirrors': 'nope' }));
    await expect(loadDaemonConfig(join(work, 'bad.json'))).rejects.toThrow(/registry-mirrors/);
  });

  it('needs a login to push; login checks the password and saves it like docker', async () => {
    await expect(dist.push(`${host}/team/busybox:1`, { localRef: 'busybox:latest' })).rejects.toThrow(/401|UNAUTHORIZED|denied/i);
    await expect(dist.login(host, { username: 'alice', password: 'wrong' })).rejects.toThrow(/401|UNAUTHORIZED/);
    await dist.login(host, { username: 'alice', password: 'pw-alice' });
    const saved = JSON.parse(await readFile(creds, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(saved.auths[host]?.auth ?? '', 'base64').toString()).toBe('alice:pw-alice');
    const pushed = await dist.push(`${host}/team/busybox:1`, { localRef: 'busybox:latest' });
    expect(pushed.layersPushed).toBe(1);
    expect(pushed.digest).toBe((await rt.images.inspect('busybox:latest')).ManifestDigest);
  });

  it('mounts layers from another repository of the same registry, and uploads in chunks', async () => {
    const mounted = await dist.push(`${host}/other/busybox:1`, { localRef: 'busybox:latest' });
    expect(mounted.layersMounted).toBe(1);
    const skipped = await dist.push(`${host}/other/busybox:2`, { localRef: 'busybox:latest' });
    expect(skipped.layersSkipped).toBe(1);
    // chunked PATCH upload into a registry that has never seen the blob
    const reg2 = await startRegistry({ dataDir: join(work, 'reg2'), listen: '127.0.0.1:0', auth: 'off' });
    try {
      const r = await dist.push(`${new URL(reg2.url).host}/chunked/busybox:1`, { localRef: 'busybox:latest', chunkSize: 100_000 });
      expect(r.layersPushed).toBe(1);
      const m = await http(`${reg2.url}/v2/chunked/busybox/manifests/1`);
      expect(m.headers['docker-content-digest']).toBe(r.digest);
    } finally {
      await reg2.close();
    }
  });

  it('pulls with the saved login, and a pull of a present image downloads nothing', async () => {
    const rt2 = new Runtime({ root: join(work, 'rt2') });
    const d2 = new Distribution({ images: rt2.images, root: rt2.root, credentialsPath: creds });
    const seen: string[] = [];
    const r = await d2.pull(`${host}/team/busybox:1`, { onProgress: (p) => seen.push(p.status) });
    expect(r.layersDownloaded).toBe(1);
    expect(seen).toEqual(expect.arrayContaining(['Waiting', 'Downloading', 'Download complete', 'Pull complete']));
    expect(await rt2.images.exists(`${host}/team/busybox:1`)).toBe(true);
    const again = await d2.pull(`${host}/team/busybox:1`);
    expect([again.layersDownloaded, again.layersPresent]).toEqual([0, 1]);
    // by digest: the image arrives unnamed
    const byDigest = await d2.pull(`${host}/team/busybox@${r.manifestDigest}`);
    expect(byDigest.id).toBe(r.id);
    await dist.logout(host);
    const anon = new Distribution({ images: rt2.images, root: rt2.root, credentialsPath: creds });
    await expect(anon.pull(`${host}/team/busybox:1`)).rejects.toThrow(/401|403|UNAUTHORIZED|DENIED/);
    await dist.login(host, { username: 'alice', password: 'pw-alice' });
  });

  it('resumes a download that breaks off, and rejects content with the wrong digest', async () => {
    const proxy = await tamperingProxy(reg.url, { cutAfter: 200_000 });
    try {
      const rt3 = new Runtime({ root: join(work, 'rt3') });
      const d3 = new Distribution({ images: rt3.images, root: rt3.root, credentialsPath: join(work, 'proxy-creds.json') });
      await d3.login(proxy.host, { username: 'alice', password: 'pw-alice' });
      const retries: string[] = [];
      const r = await d3.pull(`${proxy.host}/team/busybox:1`, { onProgress: (p) => p.status === 'Retrying' && retries.push(p.detail ?? '') });
      expect(proxy.cuts).toBeGreaterThan(0);
      expect(proxy.ranges.some((r) => /^bytes=[1-9]\d*-$/.test(r))).toBe(true);
      expect(retries.length).toBeGreaterThan(0);
      expect(r.manifestDigest).toBe((await rt.images.inspect('busybox:latest')).ManifestDigest);
    } finally {
      proxy.server.close();
    }
    const bad = await tamperingProxy(reg.url, { corrupt: true });
    try {
      const rt4 = new Runtime({ root: join(work, 'rt4') });
      const d4 = new Distribution({ images: rt4.images, root: rt4.root, credentialsPath: join(work, 'bad-creds.json') });
      await d4.login(bad.host, { username: 'alice', password: 'pw-alice' });
      await expect(d4.pull(`${bad.host}/team/busybox:1`)).rejects.toThrow(/digest/);
      expect(await rt4.content.list()).toEqual([]);
      expect(await rt4.images.list()).toEqual([]);
    } finally {
      bad.server.close();
    }
  });

  it('pulls Docker Hub short names through a registry mirror from daemon.json', async () => {
    const mirror = await startRegistry({ dataDir: join(work, 'mirror'), listen: '127.0.0.1:0', auth: 'off' });
    try {
      const mh = new URL(mirror.url).host;
      await dist.push(`${mh}/library/busybox:latest`, { localRef: 'busybox:latest' });
      await writeFile(join(work, 'mirror-daemon.json'), JSON.stringify({ 'registry-mirrors': [mirror.url] }));
      const rt6 = new Runtime({ root: join(work, 'rt6') });
      const d6 = new Distribution({ images: rt6.images, root: rt6.root, credentialsPath: join(work, 'c6.json'), config: await loadDaemonConfig(join(work, 'mirror-daemon.json')) });
      const r = await d6.pull('busybox');
      expect(r.ref).toMatchObject({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
      expect(r.name).toBe('busybox:latest');
      expect(await rt6.images.exists('docker.io/library/busybox:latest')).toBe(true);
      expect(r.manifestDigest).toBe((await rt.images.inspect('busybox:latest')).ManifestDigest);
    } finally {
      await mirror.close();
    }
  });

  it.skipIf(!hasCommand('openssl'))('talks HTTPS: probes https first for insecure registries, verifies certificates against certs.d', async () => {
    const dir = join(work, 'tls');
    await mkdir(join(dir, 'certs'), { recursive: true });
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    expect(gen.status).toBe(0);
    const tls = await startRegistry({ dataDir: dir, listen: '127.0.0.1:0', auth: 'off', tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
    try {
      expect(tls.url.startsWith('https://')).toBe(true);
      const h = new URL(tls.url).host;
      // loopback is insecure: https without verification is tried first and works
      const pushed = await dist.push(`${h}/secure/busybox:1`, { localRef: 'busybox:latest' });
      expect(pushed.layersPushed).toBe(1);
      // a registry that is not insecure must present a certificate the CA in certs.d/<host>/ca.crt vouches for
      await expect(new RegistryClient(tls.url).ping()).rejects.toThrow(/self[- ]signed|certificate/i);
      await new RegistryClient(tls.url, { ca: await readFile(join(dir, 'cert.pem'), 'utf8') }).ping();
      await mkdir(join(dir, 'certs.d', h), { recursive: true });
      await writeFile(join(dir, 'certs.d', h, 'ca.crt'), await readFile(join(dir, 'cert.pem')));
      const rt7 = new Runtime({ root: join(work, 'rt7') });
      const d7 = new Distribution({ images: rt7.images, root: rt7.root, credentialsPath: join(work, 'c7.json'), config: { mirrors: [], insecure: [], certsDir: join(dir, 'certs.d') } });
      expect((await d7.pull(`${h}/secure/busybox:1`)).manifestDigest).toBe(pushed.digest);
    } finally {
      await tls.close();
    }
  });

  it('resolves an image index to linux/amd64', async () => {
    const open = await startRegistry({ dataDir: join(work, 'reg3'), listen: '127.0.0.1:0', auth: 'off' });
    try {
      const h = new URL(open.url).host;
      const pushed = await dist.push(`${h}/multi/busybox:amd64`, { localRef: 'busybox:latest' });
      const manifest = await rt.content.read(pushed.digest);
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: pushed.digest, size: manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: pushed.digest, size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          ],
        }),
      );
      const put = await http(`${open.url}/v2/multi/busybox/manifests/latest`, { method: 'PUT', body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
      expect(put.status).toBe(201);
      const rt5 = new Runtime({ root: join(work, 'rt5') });
      const d5 = new Distribution({ images: rt5.images, root: rt5.root, credentialsPath: join(work, 'c5.json') });
      const r = await d5.pull(`${h}/multi/busybox:latest`);
      expect(r.digest).toBe(sha(index));
      expect(r.manifestDigest).toBe(pushed.digest);
      await expect(d5.pull(`${h}/multi/busybox:latest`, { platform: { os: 'linux', architecture: 's390x' } })).rejects.toThrow(/no matching manifest for linux\/s390x/);
    } finally {
      await open.close();
    }
  });
});
