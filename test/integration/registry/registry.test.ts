/** The Berth registry over real HTTP: the OCI Distribution endpoints, hostile input, GC and auth. */
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { makeTempRoot } from '../runtime/helpers.js';
import { errorCode, http } from './helpers.js';
import { DOCKER_MANIFEST, imageManifest, OCI_INDEX, OCI_MANIFEST, pushBlob, pushImage, sha } from './images.js';

/** Every file under a directory with its size (to prove the store is unchanged). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${p}:${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

describe('Berth registry (OCI Distribution API)', () => {
  let work: string;
  let reg: RunningRegistry;
  let url: string;

  beforeAll(async () => {
    work = await makeTempRoot('registry');
    reg = await startRegistry({ dataDir: work, listen: '127.0.0.1:0', auth: 'off' });
    url = reg.url;
  });
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('answers the version check', async () => {
    const r = await http(`${url}/v2/`);
    expect(r.status).toBe(200);
    expect(r.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('stores manifests by tag and digest with the right headers, and deletes them', async () => {
    const img = await pushImage(url, 'team/app', 'v1');
    for (const ref of ['v1', img.digest]) {
      const r = await http(`${url}/v2/team/app/manifests/${ref}`);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe(OCI_MANIFEST);
      expect(r.headers['docker-content-digest']).toBe(img.digest);
      expect(r.body.equals(img.manifest)).toBe(true);
      const h = await http(`${url}/v2/team/app/manifests/${ref}`, { method: 'HEAD' });
      expect(h.status).toBe(200);
      expect(h.headers['content-length']).toBe(String(img.manifest.length));
    }
    // Docker schema 2 and an image index that points at both
    const docker = imageManifest(img.config, [img.layer], DOCKER_MANIFEST);
    const put = await http(`${url}/v2/team/app/manifests/docker`, { method: 'PUT', body: docker, headers: { 'content-type': DOCKER_MANIFEST } });
    expect(put.status).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(sha(docker));
    expect((await http(`${url}/v2/team/app/manifests/docker`)).headers['content-type']).toBe(DOCKER_MANIFEST);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
    expect((await http(`${url}/v2/team/app/manifests/multi`, { method: 'PUT', body: index, headers: { 'content-type': OCI_INDEX } })).status).toBe(201);
    expect((await http(`${url}/v2/team/app/manifests/multi`)).headers['content-type']).toBe(OCI_INDEX);
    // an index naming a manifest the repository lacks is refused
    const badIndex = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha('nope'), size: 4 }] }));
    const bi = await http(`${url}/v2/team/app/manifests/bad`, { method: 'PUT', body: badIndex, headers: { 'content-type': OCI_INDEX } });
    expect([bi.status, errorCode(bi)]).toEqual([400, 'MANIFEST_BLOB_UNKNOWN']);
    // delete by tag removes the tag only; by digest removes the revision
    expect((await http(`${url}/v2/team/app/manifests/docker`, { method: 'DELETE' })).status).toBe(202);
    const gone = await http(`${url}/v2/team/app/manifests/docker`);
    expect([gone.status, errorCode(gone)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect((await http(`${url}/v2/team/app/manifests/${sha(docker)}`)).status).toBe(200);
    expect((await http(`${url}/v2/team/app/manifests/${sha(docker)}`, { method: 'DELETE' })).status).toBe(202);
    expect((await http(`${url}/v2/team/app/manifests/${sha(docker)}`)).status).toBe(404);
    const unknownRepo = await http(`${url}/v2/no/such/manifests/latest`);
    expect([unknownRepo.status, errorCode(unknownRepo)]).toEqual([404, 'NAME_UNKNOWN']);
  });

  it('serves blobs with HEAD, GET and Range, and deletes them', async () => {
    const data = randomBytes(10_000);
    const d = await pushBlob(url, 'blobs/one', data);
    const h = await http(`${url}/v2/blobs/one/blobs/${d}`, { method: 'HEAD' });
    expect([h.status, h.headers['content-length'], h.headers['docker-content-digest']]).toEqual([200, '10000', d]);
    const g = await http(`${url}/v2/blobs/one/blobs/${d}`);
    expect(g.body.equals(data)).toBe(true);
    const part = await http(`${url}/v2/blobs/one/blobs/${d}`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 100-199/10000');
    expect(part.body.equals(data.subarray(100, 200))).toBe(true);
    const tail = await http(`${url}/v2/blobs/one/blobs/${d}`, { headers: { range: 'bytes=9990-' } });
    expect(tail.body.equals(data.subarray(9990))).toBe(true);
    expect((await http(`${url}/v2/blobs/one/blobs/${d}`, { headers: { range: 'bytes=20000-' } })).status).toBe(416);
    // a blob is visible only in repositories it was pushed or mounted to
    const other = await http(`${url}/v2/blobs/two/blobs/${d}`, { method: 'GET' });
    expect([other.status, errorCode(other)]).toEqual([404, 'BLOB_UNKNOWN']);
    expect((await http(`${url}/v2/blobs/one/blobs/${d}`, { method: 'DELETE' })).status).toBe(202);
    expect((await http(`${url}/v2/blobs/one/blobs/${d}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('takes chunked uploads with Range bookkeeping', async () => {
    const data = randomBytes(300_000);
    const start = await http(`${url}/v2/chunked/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    expect(start.headers.range).toBe('0-0');
    const uuid = start.headers['docker-upload-uuid'] as string;
    let loc = start.headers.location as string;
    expect(loc).toBe(`/v2/chunked/blobs/uploads/${uuid}`);
    const p1 = await http(`${url}${loc}`, { method: 'PATCH', body: data.subarray(0, 100_000), headers: { 'content-range': '0-99999', 'content-type': 'application/octet-stream' } });
    expect([p1.status, p1.headers.range]).toEqual([202, '0-99999']);
    loc = p1.headers.location as string;
    // a chunk that does not start where the upload ends is refused with the current range
    const wrong = await http(`${url}${loc}`, { method: 'PATCH', body: data.subarray(200_000), headers: { 'content-range': '200000-299999' } });
    expect([wrong.status, wrong.headers.range]).toEqual([416, '0-99999']);
    const st = await http(`${url}${loc}`);
    expect([st.status, st.headers.range]).toEqual([204, '0-99999']);
    const p2 = await http(`${url}${loc}`, { method: 'PATCH', body: data.subarray(100_000, 250_000), headers: { 'content-range': '100000-249999' } });
    expect(p2.headers.range).toBe('0-249999');
    const fin = await http(`${url}${loc}?digest=${sha(data)}`, { method: 'PUT', body: data.subarray(250_000) });
    expect([fin.status, fin.headers['docker-content-digest']]).toEqual([201, sha(data)]);
    expect(fin.headers.location).toBe(`/v2/chunked/blobs/${sha(data)}`);
    expect((await http(`${url}/v2/chunked/blobs/${sha(data)}`)).body.equals(data)).toBe(true);
    // the finished session is gone
    expect(errorCode(await http(`${url}${loc}`))).toBe('BLOB_UPLOAD_UNKNOWN');
    // a cancelled session too
    const s2 = await http(`${url}/v2/chunked/blobs/uploads/`, { method: 'POST' });
    expect((await http(`${url}${s2.headers.location as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await http(`${url}${s2.headers.location as string}`)).status).toBe(404);
  });

  it('mounts a blob across repositories without storing it twice', async () => {
    const data = randomBytes(20_000);
    const d = await pushBlob(url, 'mount/src', data);
    const before = (await reg.storage.blobs.list()).length;
    const m = await http(`${url}/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`, { method: 'POST' });
    expect([m.status, m.headers.location, m.headers['docker-content-digest']]).toEqual([201, `/v2/mount/dst/blobs/${d}`, d]);
    expect((await http(`${url}/v2/mount/dst/blobs/${d}`)).body.equals(data)).toBe(true);
    // the same content pushed to a third repository is still one blob
    await pushBlob(url, 'mount/third', data);
    expect((await reg.storage.blobs.list()).length).toBe(before);
    // a mount from a repository without the blob falls back to an upload session
    const f = await http(`${url}/v2/mount/dst2/blobs/uploads/?mount=${d}&from=mount/none`, { method: 'POST' });
    expect(f.status).toBe(202);
    expect(f.headers['docker-upload-uuid']).toBeTruthy();
  });

  it('paginates the catalog and tags with n, last and a Link header', async () => {
    for (const t of ['a', 'b', 'c', 'd']) await pushImage(url, 'paged/repo', t);
    const p1 = await http(`${url}/v2/paged/repo/tags/list?n=2`);
    expect(JSON.parse(p1.body.toString())).toEqual({ name: 'paged/repo', tags: ['a', 'b'] });
    expect(p1.headers.link).toBe('</v2/paged/repo/tags/list?last=b&n=2>; rel="next"');
    const p2 = await http(`${url}/v2/paged/repo/tags/list?n=2&last=b`);
    expect(JSON.parse(p2.body.toString()).tags).toEqual(['c', 'd']);
    expect(p2.headers.link).toBeUndefined();
    const cat = JSON.parse((await http(`${url}/v2/_catalog`)).body.toString()) as { repositories: string[] };
    expect(cat.repositories).toEqual([...cat.repositories].sort());
    expect(cat.repositories).toContain('paged/repo');
    const c1 = await http(`${url}/v2/_catalog?n=1`);
    expect(JSON.parse(c1.body.toString()).repositories).toEqual(cat.repositories.slice(0, 1));
    expect(c1.headers.link).toBe(`</v2/_catalog?last=${encodeURIComponent(cat.repositories[0] as string)}&n=1>; rel="next"`);
  });

  describe('hostile input is refused with the OCI error code and nothing is stored', () => {
    const refused = async (reply: Promise<Awaited<ReturnType<typeof http>>>, status: number, code: string): Promise<void> => {
      const before = await snapshot(join(work, 'registry', 'content'));
      const r = await reply;
      expect([r.status, errorCode(r)]).toEqual([status, code]);
      expect(await snapshot(join(work, 'registry', 'content'))).toEqual(before);
    };

    it('a manifest referencing missing blobs', async () => {
      const m = imageManifest(Buffer.from('{"no":"config"}'), [randomBytes(10)]);
      await refused(http(`${url}/v2/hostile/app/manifests/v1`, { method: 'PUT', body: m, headers: { 'content-type': OCI_MANIFEST } }), 400, 'MANIFEST_BLOB_UNKNOWN');
      expect((await http(`${url}/v2/hostile/app/manifests/v1`)).status).toBe(404);
    });

    it('a blob with the wrong digest (monolithic and chunked)', async () => {
      const data = randomBytes(1000);
      const wrong = sha('something else');
      await refused(http(`${url}/v2/hostile/app/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: data }), 400, 'DIGEST_INVALID');
      expect((await http(`${url}/v2/hostile/app/blobs/${wrong}`, { method: 'HEAD' })).status).toBe(404);
      expect((await http(`${url}/v2/hostile/app/blobs/${sha(data)}`, { method: 'HEAD' })).status).toBe(404);
      const s = await http(`${url}/v2/hostile/app/blobs/uploads/`, { method: 'POST' });
      await http(`${url}${s.headers.location as string}`, { method: 'PATCH', body: data });
      await refused(http(`${url}${s.headers.location as string}?digest=${wrong}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      await refused(http(`${url}/v2/hostile/app/blobs/uploads/?digest=sha256:xyz`, { method: 'POST', body: data }), 400, 'DIGEST_INVALID');
    });

    it('a truncated upload', async () => {
      const data = randomBytes(50_000);
      // the client claims the whole blob's digest but sends only part of it
      await refused(http(`${url}/v2/hostile/app/blobs/uploads/?digest=${sha(data)}`, { method: 'POST', body: data.subarray(0, 20_000) }), 400, 'DIGEST_INVALID');
      const s = await http(`${url}/v2/hostile/app/blobs/uploads/`, { method: 'POST' });
      await http(`${url}${s.headers.location as string}`, { method: 'PATCH', body: data.subarray(0, 30_000) });
      await refused(http(`${url}${s.headers.location as string}?digest=${sha(data)}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      expect((await http(`${url}/v2/hostile/app/blobs/${sha(data)}`, { method: 'HEAD' })).status).toBe(404);
    });

    it('names with `..` or uppercase', async () => {
      for (const name of ['a/../b', '..', 'Upper/case', 'UPPER']) {
        await refused(http(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' }), 400, 'NAME_INVALID');
        await refused(http(`${url}/v2/${name}/manifests/latest`, { method: 'PUT', body: '{}' }), 400, 'NAME_INVALID');
      }
      expect(errorCode(await http(`${url}/v2/Bad/tags/list`))).toBe('NAME_INVALID');
    });

    it('an oversized manifest (> 4 MiB)', async () => {
      const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } }));
      await refused(http(`${url}/v2/hostile/app/manifests/big`, { method: 'PUT', body: big, headers: { 'content-type': OCI_MANIFEST } }), 413, 'SIZE_INVALID');
    });

    it('a manifest whose digest does not match the reference, and invalid JSON', async () => {
      const img = await pushImage(url, 'hostile/ok', 'v1');
      await refused(http(`${url}/v2/hostile/ok/manifests/${sha('other')}`, { method: 'PUT', body: img.manifest, headers: { 'content-type': OCI_MANIFEST } }), 400, 'DIGEST_INVALID');
      await refused(http(`${url}/v2/hostile/ok/manifests/v2`, { method: 'PUT', body: '{not json', headers: { 'content-type': OCI_MANIFEST } }), 400, 'MANIFEST_INVALID');
      await refused(http(`${url}/v2/hostile/ok/manifests/v2`, { method: 'PUT', body: '{"schemaVersion":1}', headers: { 'content-type': OCI_MANIFEST } }), 400, 'MANIFEST_INVALID');
    });
  });

  it('garbage collection removes unreferenced blobs but keeps what an upload in progress needs', async () => {
    const img = await pushImage(url, 'gc/kept', 'v1');
    const orphan = await pushBlob(url, 'gc/orphan', randomBytes(3000));
    // a push in progress: its first blob is stored, its manifest not yet, and an upload session is open
    const pending = await pushBlob(url, 'gc/pending', randomBytes(3000));
    const session = await http(`${url}/v2/gc/pending/blobs/uploads/`, { method: 'POST' });
    const report = await reg.storage.gc({ graceMs: 0 });
    expect(report.blobsRemoved).toContain(orphan);
    expect(report.blobsRemoved).not.toContain(pending);
    for (const d of [img.digest, sha(img.config), sha(img.layer)]) expect(await reg.storage.blobs.has(d)).toBe(true);
    expect(await reg.storage.blobs.has(orphan)).toBe(false);
    expect((await http(`${url}/v2/gc/orphan/blobs/${orphan}`, { method: 'HEAD' })).status).toBe(404);
    expect((await http(`${url}/v2/gc/kept/manifests/v1`)).status).toBe(200);
    // once the session ends, the unreferenced blob goes too
    await http(`${url}${session.headers.location as string}`, { method: 'DELETE' });
    expect((await reg.storage.gc({ graceMs: 0 })).blobsRemoved).toContain(pending);
    // an abandoned session is purged, and what only it needed goes with it
    const stale = await http(`${url}/v2/gc/stale/blobs/uploads/`, { method: 'POST' });
    await http(`${url}${stale.headers.location as string}`, { method: 'PATCH', body: randomBytes(100) });
    const purged = await reg.storage.gc({ graceMs: 0, uploadMaxAgeMs: -1 });
    expect(purged.uploadsPurged).toContain(stale.headers['docker-upload-uuid']);
    expect((await http(`${url}${stale.headers.location as string}`)).status).toBe(404);
    // deleting the manifest frees its blobs
    await http(`${url}/v2/gc/kept/manifests/${img.digest}`, { method: 'DELETE' });
    const r2 = await reg.storage.gc({ graceMs: 0 });
    expect(r2.blobsRemoved).toEqual(expect.arrayContaining([img.digest, sha(img.layer)]));
  });

  it('exposes metrics', async () => {
    const r = await http(`${url}/metrics`);
    const text = r.body.toString();
    expect(text).toMatch(/berth_registry_http_requests_total\{method="PUT",code="201"\} \d+/);
    expect(text).toMatch(/berth_registry_bytes_received_total \d+/);
    expect(text).toMatch(/berth_registry_blobs [1-9]\d*/);
    expect(text).toMatch(/berth_registry_repositories [1-9]\d*/);
    expect(text).toMatch(/berth_registry_blob_upload_duration_seconds_count [1-9]\d*/);
  });
});

describe('Berth registry auth (Docker token flow)', () => {
  let work: string;
  let reg: RunningRegistry;
  let url: string;
  const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const token = async (scope: string, auth?: string): Promise<{ status: number; token?: string }> => {
    const r = await http(`${url}/token?service=berth-registry&scope=${encodeURIComponent(scope)}`, { headers: auth ? { authorization: auth } : {} });
    return { status: r.status, token: r.status === 200 ? (JSON.parse(r.body.toString()) as { token: string }).token : undefined };
  };

  beforeAll(async () => {
    work = await makeTempRoot('registry-auth');
    const { UserDb } = await import('../../../src/registry/auth.js');
    await new UserDb(join(work, 'registry', 'users')).setPassword('alice', 's3cret', 4);
    reg = await startRegistry({ dataDir: work, listen: '127.0.0.1:0' });
    url = reg.url;
  });
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('challenges requests without credentials with a Bearer realm', async () => {
    expect(reg.authEnabled).toBe(true);
    const r = await http(`${url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    expect([r.status, errorCode(r)]).toEqual([401, 'UNAUTHORIZED']);
    expect(r.headers['www-authenticate']).toBe(`Bearer realm="${url}/token",service="berth-registry",scope="repository:team/app:pull,push"`);
    expect((await http(`${url}/v2/`)).status).toBe(401);
    expect((await http(`${url}/v2/team/app/manifests/latest`)).status).toBe(401);
  });

  it('refuses a token request with a wrong password', async () => {
    expect((await token('repository:team/app:pull', basic('alice', 'wrong'))).status).toBe(401);
    expect((await token('repository:team/app:pull', basic('mallory', 's3cret'))).status).toBe(401);
  });

  it('a push token pushes; a pull-only token pulls and is denied a push', async () => {
    const push = await token('repository:team/app:pull,push', basic('alice', 's3cret'));
    expect(push.status).toBe(200);
    const auth = { authorization: `Bearer ${push.token as string}` };
    await pushImage(url, 'team/app', 'v1', auth);
    const manifestPut = await http(`${url}/v2/team/app/manifests/v1`, { headers: auth });
    expect(manifestPut.status).toBe(200);

    const pull = await token('repository:team/app:pull', basic('alice', 's3cret'));
    const pullAuth = { authorization: `Bearer ${pull.token as string}` };
    const got = await http(`${url}/v2/team/app/manifests/v1`, { headers: pullAuth });
    expect(got.status).toBe(200);
    // the token does not carry push: refused, with a challenge for the scope it lacks (as distribution does)
    const denied = await http(`${url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: pullAuth });
    expect([denied.status, errorCode(denied)]).toEqual([401, 'UNAUTHORIZED']);
    expect(denied.headers['www-authenticate']).toContain('error="insufficient_scope"');
    const deniedManifest = await http(`${url}/v2/team/app/manifests/v2`, { method: 'PUT', headers: { ...pullAuth, 'content-type': OCI_MANIFEST }, body: '{}' });
    expect(deniedManifest.status).toBe(401);
    expect((await http(`${url}/v2/team/app/manifests/v1`)).status).toBe(401);
    // a token for another repository gets a fresh challenge, not access
    const other = await http(`${url}/v2/other/app/manifests/v1`, { headers: pullAuth });
    expect(other.status).toBe(401);
    expect(other.headers['www-authenticate']).toContain('error="insufficient_scope"');
    // a forged token is refused
    const forged = `${(pull.token as string).slice(0, -4)}AAAA`;
    expect((await http(`${url}/v2/team/app/manifests/v1`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('anonymous tokens are denied what they asked for unless anonymous pull is on', async () => {
    const anon = await token('repository:team/app:pull,push');
    expect(anon.status).toBe(200);
    const r = await http(`${url}/v2/team/app/manifests/v1`, { headers: { authorization: `Bearer ${anon.token as string}` } });
    expect([r.status, errorCode(r)]).toEqual([403, 'DENIED']);
    const w = await http(`${url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${anon.token as string}` } });
    expect([w.status, errorCode(w)]).toEqual([403, 'DENIED']);
  });

  it('anonymous pull and read-only mode', async () => {
    const ro = await startRegistry({ dataDir: work, listen: '127.0.0.1:0', anonymousPull: true, readOnly: true });
    try {
      expect((await http(`${ro.url}/v2/team/app/manifests/v1`)).status).toBe(200);
      expect((await http(`${ro.url}/v2/team/app/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
      const t = await http(`${ro.url}/token?service=berth-registry&scope=repository:team/app:pull,push`, { headers: { authorization: basic('alice', 's3cret') } });
      const tok = (JSON.parse(t.body.toString()) as { token: string }).token;
      const w = await http(`${ro.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${tok}` } });
      expect(w.status).toBe(403);
      const open = await startRegistry({ dataDir: join(work, 'open'), listen: '127.0.0.1:0', auth: 'off', readOnly: true });
      try {
        const x = await http(`${open.url}/v2/a/blobs/uploads/`, { method: 'POST' });
        expect([x.status, errorCode(x)]).toEqual([405, 'UNSUPPORTED']);
      } finally {
        await open.close();
      }
    } finally {
      await ro.close();
    }
  });
});
