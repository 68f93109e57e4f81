/**
 * Interoperability of the Berth registry and client with third-party tools: skopeo (containers/image)
 * copies into and out of the Berth registry, and Berth's client pulls from and pushes to Debian's
 * docker-registry (distribution 2.8). Images are made locally from busybox-static; no network.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAclFile } from '../../src/registry/acl-config.js';
import { startRegistry, type RunningRegistry } from '../../src/registry/server.js';
import { Distribution } from '../../src/runtime/distribution/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { run } from '../helpers/run.js';
import { hasCommand, http, startDockerRegistry, type RunningProcess } from '../integration/registry/helpers.js';
import { busyboxTarball, makeTempRoot } from '../integration/runtime/helpers.js';

const skip = !hasCommand('skopeo') || !hasCommand('docker-registry') || !hasCommand('tar') ? 'needs skopeo, docker-registry and /bin/busybox (scripts/setup)' : undefined;

describe.skipIf(skip !== undefined)('registry interoperability (skopeo, docker-registry)', () => {
  let work: string;
  let rt: Runtime;
  let dist: Distribution;
  let berth: RunningRegistry;
  let docker: RunningProcess;
  let berthHost: string;
  let archive: string;
  let manifestDigest: string;

  beforeAll(async () => {
    work = await makeTempRoot('registry-e2e');
    rt = new Runtime({ root: join(work, 'rt') });
    const tar = await busyboxTarball(work);
    await rt.importImage(tar, { ref: 'busybox:latest' });
    manifestDigest = (await rt.images.inspect('busybox:latest')).ManifestDigest;
    archive = join(work, 'busybox.oci.tar');
    await rt.saveImages(['busybox:latest'], archive, 'oci-archive');
    berth = await startRegistry({ dataDir: join(work, 'berth'), listen: '127.0.0.1:0' });
    berthHost = new URL(berth.url).host;
    await mkdir(join(work, 'docker'), { recursive: true });
    docker = await startDockerRegistry(join(work, 'docker'));
    dist = new Distribution({ images: rt.images, root: rt.root, credentialsPath: join(work, 'creds.json') });
  }, 60_000);

  afterAll(async () => {
    await berth?.close();
    await docker?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const skopeo = async (...args: string[]): Promise<string> => {
    const r = await run('skopeo', args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  it('skopeo copies an image into the Berth registry and back out with the same digest', async () => {
    await skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${berthHost}/tools/busybox:1.0`);
    const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${berthHost}/tools/busybox:1.0`)) as { Digest: string; Architecture: string };
    expect(inspected.Digest).toBe(manifestDigest);
    expect(inspected.Architecture).toBe('amd64');
    const out = join(work, 'out-dir');
    await skopeo('copy', '--src-tls-verify=false', `docker://${berthHost}/tools/busybox:1.0`, `dir:${out}`);
    const manifest = await readFile(join(out, 'manifest.json'));
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(manifestDigest);
    // registry to registry: Berth -> docker-registry keeps the digest too
    await skopeo('copy', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${berthHost}/tools/busybox:1.0`, `docker://${docker.host}/copied/busybox:1.0`);
    const there = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${docker.host}/copied/busybox:1.0`)) as { Digest: string };
    expect(there.Digest).toBe(manifestDigest);
  });

  it('Berth pushes to docker-registry and pulls back from it into a fresh node', async () => {
    const pushed = await dist.push(`${docker.host}/berth/busybox:v1`, { localRef: 'busybox:latest' });
    expect(pushed.digest).toBe(manifestDigest);
    expect(pushed.layersPushed).toBe(1);
    const again = await dist.push(`${docker.host}/berth/busybox:v1`, { localRef: 'busybox:latest' });
    expect(again.layersSkipped).toBe(1);
    const viaSkopeo = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${docker.host}/berth/busybox:v1`)) as { Digest: string };
    expect(viaSkopeo.Digest).toBe(manifestDigest);

    const rt2 = new Runtime({ root: join(work, 'rt2') });
    const dist2 = new Distribution({ images: rt2.images, root: rt2.root, credentialsPath: join(work, 'creds2.json') });
    const statuses: string[] = [];
    const pulled = await dist2.pull(`${docker.host}/berth/busybox:v1`, { onProgress: (p) => statuses.push(p.status) });
    expect(pulled.manifestDigest).toBe(manifestDigest);
    expect(pulled.layersDownloaded).toBe(1);
    expect(statuses).toContain('Pull complete');
    const local = await rt2.images.inspect(`${docker.host}/berth/busybox:v1`);
    expect(local.Id).toBe((await rt.images.inspect('busybox:latest')).Id);
    expect(local.ManifestDigest).toBe(manifestDigest);
    // a pull of a present image downloads nothing
    const second = await dist2.pull(`${docker.host}/berth/busybox:v1`);
    expect(second.layersDownloaded).toBe(0);
    expect(second.layersPresent).toBe(1);
    // and skopeo's copy into docker-registry pulls the same way
    const fromSkopeo = await dist2.pull(`${docker.host}/copied/busybox:1.0`);
    expect(fromSkopeo.manifestDigest).toBe(manifestDigest);
  });

  it('skopeo authenticates through the Berth token flow; no or wrong credentials are refused', async () => {
    const { UserDb } = await import('../../src/registry/auth.js');
    await new UserDb(join(work, 'secure', 'registry', 'users')).setPassword('alice', 'pw-alice', 4);
    const secure = await startRegistry({ dataDir: join(work, 'secure'), listen: '127.0.0.1:0' });
    try {
      const h = new URL(secure.url).host;
      const bad = await run('skopeo', ['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'alice:wrong', `oci-archive:${archive}`, `docker://${h}/sec/busybox:1`], { timeoutMs: 60_000 });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/unauthorized|incorrect username or password/i);
      await skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'alice:pw-alice', `oci-archive:${archive}`, `docker://${h}/sec/busybox:1`);
      const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', 'alice:pw-alice', `docker://${h}/sec/busybox:1`)) as { Digest: string };
      expect(inspected.Digest).toBe(manifestDigest);
      const anon = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${h}/sec/busybox:1`], { timeoutMs: 60_000 });
      expect(anon.code).not.toBe(0);
      expect(anon.stderr).toMatch(/denied/);
    } finally {
      await secure.close();
    }
  });

  it('skopeo with per-user permissions: an allowed user pushes, a denied one gets "denied"', async () => {
    const { UserDb } = await import('../../src/registry/auth.js');
    const users = new UserDb(join(work, 'acl', 'registry', 'users'));
    for (const u of ['admin', 'dev', 'reader']) await users.setPassword(u, `pw-${u}`, 4);
    const aclFile = join(work, 'acl.yaml');
    await writeFile(
      aclFile,
      ['acl:', '  - match: {account: admin}', '    actions: ["*"]', '  - match: {account: dev, name: "team-a/*"}', '    actions: [pull, push]', '  - match: {account: "/.+/"}', '    actions: [pull]', ''].join('\n'),
    );
    const secure = await startRegistry({ dataDir: join(work, 'acl'), listen: '127.0.0.1:0', acl: await loadAclFile(aclFile) });
    try {
      const h = new URL(secure.url).host;
      const copyTo = (creds: string, dest: string) => run('skopeo', ['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, `oci-archive:${archive}`, `docker://${h}/${dest}`], { timeoutMs: 60_000 });
      const ok = await copyTo('dev:pw-dev', 'team-a/busybox:1');
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', 'reader:pw-reader', `docker://${h}/team-a/busybox:1`)) as { Digest: string };
      expect(inspected.Digest).toBe(manifestDigest);
      for (const [creds, dest] of [
        ['dev:pw-dev', 'team-b/busybox:1'],
        ['reader:pw-reader', 'team-a/busybox:2'],
      ] as const) {
        const denied = await copyTo(creds, dest);
        expect(denied.code).not.toBe(0);
        expect(denied.stderr).toMatch(/denied/);
      }
      // skopeo asks for `*` to delete: dev gets pull,push, which is not enough; admin may
      const del = (creds: string) => run('skopeo', ['delete', '--tls-verify=false', '--creds', creds, `docker://${h}/team-a/busybox:1`], { timeoutMs: 60_000 });
      const notAllowed = await del('dev:pw-dev');
      expect(notAllowed.code).not.toBe(0);
      expect(notAllowed.stderr).toMatch(/denied/);
      const deleted = await del('admin:pw-admin');
      expect(deleted.stderr).toBe('');
      expect(deleted.code).toBe(0);
      const gone = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'admin:pw-admin', `docker://${h}/team-a/busybox:1`], { timeoutMs: 60_000 });
      expect(gone.stderr).toMatch(/manifest unknown/i);
    } finally {
      await secure.close();
    }
  });

  it('/v2/_catalog and tags/list answer as docker-registry answers for the same pushes', async () => {
    for (const host of [berthHost, docker.host]) {
      for (const name of ['cmp/alpha:1', 'cmp/alpha:2', 'cmp/beta:latest', 'zeta:x']) await dist.push(`${host}/${name}`, { localRef: 'busybox:latest' });
    }
    const get = async (host: string, path: string): Promise<{ status: number; json: unknown; link: unknown }> => {
      const r = await http(`http://${host}${path}`);
      return { status: r.status, json: JSON.parse(r.body.toString('utf8')), link: r.headers.link };
    };
    const berthCatalog = (await get(berthHost, '/v2/_catalog')).json as { repositories: string[] };
    const dockerCatalog = (await get(docker.host, '/v2/_catalog')).json as { repositories: string[] };
    // both registries hold the same repositories from the pushes above (plus those of the earlier tests)
    expect(berthCatalog.repositories.filter((r) => r.startsWith('cmp/') || r === 'zeta')).toEqual(dockerCatalog.repositories.filter((r) => r.startsWith('cmp/') || r === 'zeta'));
    for (const path of ['/v2/cmp/alpha/tags/list', '/v2/cmp/beta/tags/list', '/v2/zeta/tags/list', '/v2/nope/tags/list']) {
      const a = await get(berthHost, path);
      const b = await get(docker.host, path);
      expect({ path, status: a.status }).toEqual({ path, status: b.status });
      // distribution 2.8 lists tags in directory order; the OCI spec (and Berth) sort them lexically
      const sorted = (j: unknown): unknown => ({ ...(j as object), tags: [...((j as { tags: string[] }).tags ?? [])].sort() });
      if (a.status === 200) expect(a.json).toEqual(sorted(b.json));
      else expect((a.json as { errors: Array<{ code: string }> }).errors[0]?.code).toBe((b.json as { errors: Array<{ code: string }> }).errors[0]?.code);
    }
    // pagination: same pages and the same Link header
    const page1b = await get(berthHost, '/v2/_catalog?n=2');
    const page1d = await get(docker.host, '/v2/_catalog?n=2');
    const berthAll = berthCatalog.repositories;
    const dockerAll = dockerCatalog.repositories;
    if (JSON.stringify(berthAll) === JSON.stringify(dockerAll)) {
      expect(page1b.json).toEqual(page1d.json);
      expect(page1b.link).toEqual(page1d.link);
    }
    expect((page1b.json as { repositories: string[] }).repositories).toEqual(berthAll.slice(0, 2));
    expect(String(page1b.link)).toContain('rel="next"');
  });
});
