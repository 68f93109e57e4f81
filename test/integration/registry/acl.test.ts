/** Per-user permissions of the Berth registry: docker_auth-style ACL rules, the token endpoint and the registry's answers. */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Acl } from '../../../src/registry/acl.js';
import { loadAclFile, parseAcl } from '../../../src/registry/acl-config.js';
import { UserDb } from '../../../src/registry/auth.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { berthArgv } from '../../helpers/berth-bin.js';
import { run } from '../../helpers/run.js';
import { makeTempRoot } from '../runtime/helpers.js';
import { errorCode, http } from './helpers.js';
import { OCI_MANIFEST, pushImage } from './images.js';

const ACL_YAML = `
acl:
  - match: {account: admin}
    actions: ["*"]
    comment: admins do everything
  - match: {account: dev, name: "team-a/*"}
    actions: [pull, push]
  - match: {account: reader}
    actions: [pull]
  - match: {account: "/.+/", name: "\${account}/*"}
    actions: ["*"]
  - match: {account: "", name: "public/*"}
    actions: [pull]
  - match: {account: "/.+/", name: "public/*"}
    actions: [pull]
`;

describe('ACL rules', () => {
  const acl = parseAcl(
    {
      acl: [
        { match: { account: 'alice', name: 'secret/*' }, actions: [] },
        { match: { account: 'alice' }, actions: ['pull', 'push'] },
        { match: { account: '/b.b/', name: '/team-[ab]/.+/' }, actions: ['*'] },
        { match: { account: '', name: 'public/?' }, actions: ['pull'] },
        { match: { name: 'everyone/*' }, actions: ['pull'] },
      ],
    },
    'test',
  );
  const can = (account: string, repo: string): string[] => [...acl.actions(account, repo)].sort();

  it('the first matching rule decides, [] denies, no match allows nothing', () => {
    expect(can('alice', 'secret/x')).toEqual([]);
    expect(can('alice', 'team-a/x')).toEqual(['pull', 'push']);
    expect(can('carol', 'team-a/x')).toEqual([]);
  });

  it('globs cross "/", /regex/ must match the whole name, "" is anonymous and an omitted account is anyone', () => {
    expect(can('bob', 'team-b/x/y')).toEqual(['delete', 'pull', 'push']);
    expect(can('bob', 'team-c/x')).toEqual([]);
    expect(can('bobby', 'team-a/x')).toEqual([]);
    expect(can('', 'public/a')).toEqual(['pull']);
    expect(can('', 'public/ab')).toEqual([]);
    expect(can('alice', 'public/a')).toEqual(['pull', 'push']);
    expect(can('carol', 'public/a')).toEqual([]);
    expect(can('', 'everyone/x/y')).toEqual(['pull']);
    expect(can('carol', 'everyone/x')).toEqual(['pull']);
  });

  it('${account} in a name is the requesting account; the catalog is for accounts some rule lets pull', () => {
    const own = new Acl([{ match: { account: '/.+/', name: '${account}/*' }, actions: ['*'] }]);
    expect([...own.actions('alice', 'alice/app')].sort()).toEqual(['delete', 'pull', 'push']);
    expect([...own.actions('alice', 'bob/app')]).toEqual([]);
    expect([...own.actions('', '/app')]).toEqual([]);
    expect(own.maySeeCatalog('alice')).toBe(true);
    expect(own.maySeeCatalog('')).toBe(false);
    expect(acl.maySeeCatalog('carol')).toBe(true); // through the rule without an account
  });

  it('a bad configuration is refused, naming the field', async () => {
    const bad = (raw: unknown): string => {
      try {
        parseAcl(raw, 'f.yaml');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ acl: [{ match: {}, actions: ['pull', 'pul'] }] })).toMatch(/^registry ACL f\.yaml: acl\[0\]\.actions\[1\]: "pul" is not an action/);
    expect(bad({ acl: [{ match: { acount: 'x' }, actions: [] }] })).toMatch(/acl\[0\]\.match\.acount: unknown field/);
    expect(bad({ acl: [{ match: {}, actions: [] }, { match: { name: '/team-(/' }, actions: [] }] })).toMatch(/acl\[1\]\.match\.name: name "\/team-\(\/" is not a valid regular expression/);
    expect(bad({ acl: [{ match: {} }] })).toMatch(/acl\[0\]\.actions: Required value/);
    expect(bad({ rules: [] })).toMatch(/acl: Required value.*rules: unknown field|rules: unknown field.*acl: Required value/);
    expect(bad({ acl: [{ match: { account: 7 }, actions: [] }] })).toMatch(/acl\[0\]\.match\.account: /);
  });

  it('loads YAML and JSON files; a file that is neither is refused', async () => {
    const dir = await makeTempRoot('registry-acl-files');
    try {
      await writeFile(join(dir, 'acl.yaml'), ACL_YAML);
      expect((await loadAclFile(join(dir, 'acl.yaml'))).source).toHaveLength(6);
      await writeFile(join(dir, 'acl.json'), JSON.stringify({ acl: [{ match: { account: 'x' }, actions: ['*'] }] }));
      expect((await loadAclFile(join(dir, 'acl.json'))).allows('x', 'a/b', 'delete')).toBe(true);
      await writeFile(join(dir, 'broken.yaml'), 'acl: [\n  - {match: {account: x}, actions: [pull]\n');
      await expect(loadAclFile(join(dir, 'broken.yaml'))).rejects.toThrow(/broken\.yaml: not YAML or JSON/);
      await expect(loadAclFile(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('berth registry and berth server refuse a bad ACL at startup, naming the field', async () => {
    const dir = await makeTempRoot('registry-acl-cli');
    try {
      const file = join(dir, 'acl.yaml');
      await writeFile(file, 'acl:\n  - match: {account: dev, name: "team-a/*"}\n    actions: [pull, pussh]\n');
      const [cmd, pre] = berthArgv(['registry', '--data-dir', join(dir, 'reg'), '--listen', '127.0.0.1:0', '--acl', file]);
      const r = await run(cmd, pre, { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`registry ACL ${file}: acl[0].actions[1]: "pussh" is not an action (pull, push, delete or *)`);
      const [cmd2, pre2] = berthArgv(['server', '--data-dir', join(dir, 'srv'), '--listen', '127.0.0.1:0', '--store', 'memory:', '--no-agent', '--registry-listen', '127.0.0.1:0', '--registry-acl', file]);
      const s = await run(cmd2, pre2, { timeoutMs: 30_000 });
      expect(s.code).toBe(1);
      expect(s.stderr).toContain('acl[0].actions[1]');
      const off = await run(cmd, [...pre.slice(0, -2), '--auth', 'off', '--acl', file], { timeoutMs: 30_000 });
      expect(off.code).toBe(1);
      expect(off.stderr).toContain('--acl needs token auth');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Berth registry with an ACL', () => {
  let work: string;
  let reg: RunningRegistry;
  let url: string;
  const basic = (u: string): string => `Basic ${Buffer.from(`${u}:pw-${u}`).toString('base64')}`;
  /** A token for `scope` and the actions it carries for each scope. */
  const token = async (scope: string, user?: string): Promise<{ auth: Record<string, string>; access: Array<{ type: string; name: string; actions: string[] }> }> => {
    const q = scope
      .split(' ')
      .map((s) => `scope=${encodeURIComponent(s)}`)
      .join('&');
    const r = await http(`${url}/token?service=berth-registry&${q}`, { headers: user ? { authorization: basic(user) } : {} });
    expect(r.status).toBe(200);
    const t = (JSON.parse(r.body.toString()) as { token: string }).token;
    const claims = JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { access: Array<{ type: string; name: string; actions: string[] }> };
    return { auth: { authorization: `Bearer ${t}` }, access: claims.access };
  };
  const post = (repo: string, auth: Record<string, string> = {}) => http(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });

  beforeAll(async () => {
    work = await makeTempRoot('registry-acl');
    const users = new UserDb(join(work, 'registry', 'users'));
    for (const u of ['admin', 'dev', 'reader', 'carol']) await users.setPassword(u, `pw-${u}`, 4);
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'acl.yaml'), ACL_YAML);
    reg = await startRegistry({ dataDir: work, listen: '127.0.0.1:0', acl: await loadAclFile(join(work, 'acl.yaml')) });
    url = reg.url;
    const admin = await token('repository:team-a/x:pull,push repository:team-b/x:pull,push repository:public/app:pull,push', 'admin');
    for (const repo of ['team-a/x', 'team-b/x', 'public/app']) await pushImage(url, repo, 'v1', admin.auth);
  });
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the token endpoint grants the intersection of the requested scope and what the ACL allows', async () => {
    const t = await token('repository:team-a/x:pull,push,delete repository:team-b/x:* repository:dev/app:* registry:catalog:*', 'dev');
    expect(t.access).toEqual([
      { type: 'repository', name: 'team-a/x', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team-b/x', actions: [] },
      { type: 'repository', name: 'dev/app', actions: ['pull', 'push', 'delete'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const wrong = await http(`${url}/token?service=berth-registry&scope=repository:team-a/x:pull`, { headers: { authorization: `Basic ${Buffer.from('dev:nope').toString('base64')}` } });
    expect([wrong.status, errorCode(wrong)]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('a pull-only user pulls team-a/x and is denied a push', async () => {
    const t = await token('repository:team-a/x:pull,push', 'reader');
    expect(t.access[0]?.actions).toEqual(['pull']);
    expect((await http(`${url}/v2/team-a/x/manifests/v1`, { headers: t.auth })).status).toBe(200);
    const denied = await post('team-a/x', t.auth);
    expect([denied.status, errorCode(denied)]).toEqual([403, 'DENIED']);
    const put = await http(`${url}/v2/team-a/x/manifests/v2`, { method: 'PUT', headers: { ...t.auth, 'content-type': OCI_MANIFEST }, body: '{}' });
    expect([put.status, errorCode(put)]).toEqual([403, 'DENIED']);
  });

  it('a user with push on team-a/* pushes team-a/x but not team-b/x', async () => {
    const a = await token('repository:team-a/x:pull,push', 'dev');
    await pushImage(url, 'team-a/x', 'v2', a.auth);
    expect((await http(`${url}/v2/team-a/x/manifests/v2`, { headers: a.auth })).status).toBe(200);
    const b = await token('repository:team-b/x:pull,push', 'dev');
    expect(b.access[0]?.actions).toEqual([]);
    const denied = await post('team-b/x', b.auth);
    expect([denied.status, errorCode(denied)]).toEqual([403, 'DENIED']);
    // the team-a token used on team-b: also DENIED (the ACL refuses dev there, a new token would not help)
    expect(errorCode(await post('team-b/x', a.auth))).toBe('DENIED');
    // without a token: 401 with a Bearer challenge naming the scope to ask for
    const anon = await post('team-b/x');
    expect([anon.status, errorCode(anon)]).toEqual([401, 'UNAUTHORIZED']);
    expect(anon.headers['www-authenticate']).toBe(`Bearer realm="${url}/token",service="berth-registry",scope="repository:team-b/x:pull,push"`);
  });

  it('delete needs the delete action', async () => {
    const dev = await token('repository:team-a/x:*', 'dev');
    expect(dev.access[0]?.actions).toEqual(['pull', 'push']);
    const refused = await http(`${url}/v2/team-a/x/manifests/v2`, { method: 'DELETE', headers: dev.auth });
    expect([refused.status, errorCode(refused)]).toEqual([403, 'DENIED']);
    // an admin token without delete: challenged for it (the ACL allows it), then the delete works
    const push = await token('repository:team-a/x:pull,push', 'admin');
    const challenged = await http(`${url}/v2/team-a/x/manifests/v2`, { method: 'DELETE', headers: push.auth });
    expect(challenged.status).toBe(401);
    expect(challenged.headers['www-authenticate']).toContain('scope="repository:team-a/x:pull,delete",error="insufficient_scope"');
    const admin = await token('repository:team-a/x:pull,delete', 'admin');
    expect((await http(`${url}/v2/team-a/x/manifests/v2`, { method: 'DELETE', headers: admin.auth })).status).toBe(202);
    // users delete in their own namespace (${account}/*)
    const own = await token('repository:carol/app:*', 'carol');
    await pushImage(url, 'carol/app', 'v1', own.auth);
    expect((await http(`${url}/v2/carol/app/manifests/v1`, { method: 'DELETE', headers: own.auth })).status).toBe(202);
  });

  it('anonymous rules: pull public/* without credentials, nothing else; the catalog shows each account what it may pull', async () => {
    expect((await http(`${url}/v2/public/app/manifests/v1`)).status).toBe(200);
    const hidden = await http(`${url}/v2/team-a/x/manifests/v1`);
    expect([hidden.status, errorCode(hidden)]).toEqual([401, 'UNAUTHORIZED']);
    expect(hidden.headers['www-authenticate']).toContain('scope="repository:team-a/x:pull"');
    const t = await token('repository:public/app:pull,push repository:team-a/x:pull');
    expect(t.access.map((a) => a.actions)).toEqual([['pull'], []]);
    expect(errorCode(await post('public/app', t.auth))).toBe('DENIED');
    expect(errorCode(await http(`${url}/v2/team-a/x/manifests/v1`, { headers: t.auth }))).toBe('DENIED');

    const catalog = async (auth: Record<string, string> = {}): Promise<string[]> => (JSON.parse((await http(`${url}/v2/_catalog`, { headers: auth })).body.toString()) as { repositories: string[] }).repositories;
    expect(await catalog()).toEqual(['public/app']);
    expect(await catalog((await token('registry:catalog:*', 'dev')).auth)).toEqual(['public/app', 'team-a/x']);
    expect(await catalog((await token('registry:catalog:*', 'reader')).auth)).toEqual(['carol/app', 'public/app', 'team-a/x', 'team-b/x']);
  });

  it('--anonymous-pull after an ACL grants what no rule decided', async () => {
    const open = await startRegistry({ dataDir: work, listen: '127.0.0.1:0', acl: await loadAclFile(join(work, 'acl.yaml')), anonymousPull: true });
    try {
      expect((await http(`${open.url}/v2/team-b/x/manifests/v1`)).status).toBe(200);
      expect((await http(`${open.url}/v2/team-b/x/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
    } finally {
      await open.close();
    }
  });
});
