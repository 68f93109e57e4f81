/**
 * The node image API (nodes/NAME/proxy/PATH) end to end: a node in this process, a registry with
 * a user, and the berth CLI as subprocesses whose own data dir is somewhere else entirely, so
 * every image verb can only have worked through the API server and the node's agent.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRegistryAuth } from '../../../src/api/node-api.js';
import { UserDb } from '../../../src/registry/auth.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { berthArgv, ROOT } from '../../helpers/berth-bin.js';
import { run, type RunResult } from '../../helpers/run.js';
import { busyboxTarball } from '../runtime/helpers.js';
import { containerManifest, imageManifest, phaseOf, runtimeSkipReason, startTestNode, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping node image API tests: ${skip}`);

const POLL = { timeout: 60_000, interval: 200 };

describe.skipIf(!!skip)('node image API through the API server', () => {
  let t: TestNode;
  let reg: RunningRegistry;
  let host: string;
  /** The CLI's side: its own data dir and login file, neither of them the node's. */
  let cliData: string;
  let cliConfig: string;
  const proxy = (path: string): string => `/apis/berth.dev/v1alpha1/nodes/${t.nodeName}/proxy${path}`;
  const berth = (args: string[], opts: { input?: string | Buffer; config?: string } = {}): Promise<RunResult> =>
    run(...berthArgv([...args, '--kubeconfig', t.node.api.kubeconfigPath, '--data-dir', cliData]), {
      cwd: ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1', BERTH_CONFIG: opts.config ?? cliConfig },
      timeoutMs: 60_000,
      ...(opts.input !== undefined ? { input: opts.input as string } : {}),
    });
  const tmpLeft = async (): Promise<string[]> => readdir(join(t.dir, 'data', 'runtime', 'tmp')).catch(() => []);

  beforeAll(async () => {
    t = await startTestNode();
    cliData = join(t.dir, 'cli-side', 'berth');
    cliConfig = join(t.dir, 'cli-side', 'config');
    await new UserDb(join(t.dir, 'reg', 'registry', 'users')).setPassword('alice', 'pw-alice', 4);
    reg = await startRegistry({ dataDir: join(t.dir, 'reg'), listen: '127.0.0.1:0', auth: 'on' });
    host = `127.0.0.1:${reg.port}`;
    await t.apply(imageManifest(t.tarball));
  }, 90_000);

  afterAll(async () => {
    await reg?.close();
    await t?.cleanup();
  });

  it('reaches only the paths of the node API: anything else is a 404 before any agent is looked for', async () => {
    await expect.poll(async () => phaseOf(await t.client.get('images', 'default', 'busybox')), POLL).toBe('Ready');
    const list = await t.api(proxy('/images/json'));
    expect(list.status).toBe(200);
    expect(((await list.json()) as { RepoTags: string[] }[]).flatMap((i) => i.RepoTags)).toContain('busybox:latest');

    for (const path of ['/metrics', '/containers/default/x/log', '/healthz', '/', '/images']) {
      const r = await t.api(proxy(path));
      expect(r.status, path).toBe(404);
      const status = (await r.json()) as { kind: string; reason: string; message: string };
      expect(status).toMatchObject({ kind: 'Status', reason: 'NotFound' });
      expect(status.message).toContain('has no path');
    }
    // a node that does not exist: an unknown path is refused before its agent is looked up...
    const unknownNode = await t.api('/apis/berth.dev/v1alpha1/nodes/no-such-node/proxy/metrics');
    expect(unknownNode.status).toBe(404);
    expect(((await unknownNode.json()) as { message: string }).message).toContain('has no path /metrics');
    // ...while a path of the node API goes on to the lookup, which finds no agent
    const noAgent = await t.api('/apis/berth.dev/v1alpha1/nodes/no-such-node/proxy/images/json');
    expect(noAgent.status).toBe(503);
    expect(((await noAgent.json()) as { message: string }).message).toContain('has no agent endpoint');
    // a path of the API with a method it does not take
    expect((await t.api(proxy('/images/json'), { method: 'POST' })).status).toBe(405);
    expect((await t.api(proxy('/system/df'), { method: 'DELETE' })).status).toBe(405);

    const discovery = (await (await t.api('/apis/berth.dev/v1alpha1')).json()) as { resources: { name: string; verbs: string[] }[] };
    expect(discovery.resources.find((r) => r.name === 'nodes/proxy')?.verbs).toEqual(['create', 'delete', 'get']);
    expect(discovery.resources.find((r) => r.name === 'nodes/build')?.verbs).toEqual(['create']);
  });

  it('refuses bad parameters with a 400 naming them, and writes nothing', async () => {
    const cases: Array<[string, RequestInit, RegExp]> = [
      ['/images/json?filters=%7Bbad', {}, /^filters: not valid JSON/],
      ['/images/json?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D', {}, /^filters: invalid filter "colour"/],
      ['/images/create?fromImage=Not%20A%20Ref', { method: 'POST' }, /^fromImage: "Not A Ref" is not an image reference/],
      ['/images/create?fromImage=busybox&platform=linux', { method: 'POST' }, /^platform: "linux" is not OS\/ARCH/],
      ['/images/busybox:latest?force=maybe', { method: 'DELETE' }, /^force: "maybe" is not a boolean/],
      ['/images/busybox:latest/tag', { method: 'POST' }, /^repo: required/],
      ['/images/busybox:latest/tag?repo=Bad%20Name', { method: 'POST' }, /^repo: "Bad Name" is not a valid image reference/],
      ['/commit?container=nope', { method: 'POST' }, /^container: "nope" is not NAMESPACE\/NAME of a Container/],
      ['/images/get', {}, /^names: required/],
      ['/images/search?term=%2Fbusy', {}, /^term: "" is not a registry host/],
      ['/images/search?term=x%2Fy&limit=0', {}, /^limit: "0" is not an integer from 1 to 1000/],
      ['/images/Bad%20Name/json', {}, /^name: "Bad Name" is not an image name or ID/],
    ];
    for (const [path, init, message] of cases) {
      const r = await t.api(proxy(path), init);
      const body = (await r.json()) as { reason: string; message: string };
      expect(r.status, path).toBe(400);
      expect(body.reason, path).toBe('BadRequest');
      expect(body.message, path).toMatch(message);
    }
    // an import refused for its changes: the body was sent (and drained), nothing was kept (that no
    // blob is left either is checked by the import --change CLI test, on a node with no Image object)
    const refused = await t.api(proxy('/images/create?fromSrc=-&repo=refused&changes=RUN%20echo%20hi'), { method: 'POST', body: await readFile(t.tarball), headers: { 'content-type': 'application/x-tar' } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/^--change\[0\]:1: RUN: RUN is not a valid change command/);
    const notTar = await t.api(proxy('/images/create?fromSrc=-&repo=broken'), { method: 'POST', body: 'not a tarball at all', headers: { 'content-type': 'application/x-tar' } });
    expect(notTar.status).toBe(400);
    expect(await t.node.runtime!.images.exists('refused')).toBe(false);
    expect(await t.node.runtime!.images.exists('broken')).toBe(false);
    expect(await tmpLeft()).toEqual([]);
    expect((await t.api(proxy('/images/nope:1/json'))).status).toBe(404);
  });

  it('removing an image a Container uses is a conflict naming the Container; -f only untags it while it runs', async () => {
    const solo = await busyboxTarball(t.dir, async (root) => writeFile(join(root, 'solo.txt'), 'only this image has me\n'));
    const imported = await berth(['import', solo, 'solo:1']);
    expect(imported.code, imported.stderr).toBe(0);
    const id = imported.stdout.trim();
    await t.apply(containerManifest('user', { image: 'solo:1', command: ['sleep', '600'], stopGracePeriodSeconds: 0 }));
    await expect.poll(async () => phaseOf(await t.container('user')), POLL).toBe('Running');

    const refused = await berth(['rmi', 'solo:1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error: conflict: unable to remove image "solo:1" (must force): container default/user is using it\n');
    const status = await t.api(proxy('/images/solo:1'), { method: 'DELETE' });
    expect(status.status).toBe(409);
    expect(((await status.json()) as { reason: string }).reason).toBe('Conflict');
    expect((await berth(['images', '-q', 'solo'])).stdout.trim()).toBe(id.slice(7, 19));

    const forced = await berth(['rmi', '-f', 'solo:1']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toBe('Untagged: solo:1\n');
    expect(await t.node.runtime!.images.exists(id)).toBe(true);

    expect([200, 202]).toContain((await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/user', { method: 'DELETE' })).status);
    await expect.poll(async () => (await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/user')).status, POLL).toBe(404);
    const deleted = await berth(['rmi', id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`Deleted: ${id}\n`);
    expect(await t.node.runtime!.images.exists(id)).toBe(false);
  });

  it("pulls and pushes with the client's login sent as X-Registry-Auth; bad credentials are a clear error", async () => {
    const ref = `${host}/team/busybox:1`;
    expect((await berth(['tag', 'busybox:latest', ref])).code).toBe(0);
    const anonymous = await berth(['push', ref]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^error: .*(denied|authentication required)/);

    const badLogin = await berth(['login', '-u', 'alice', '--password-stdin', host], { input: 'wrong-pw\n' });
    expect(badLogin.code).toBe(1);
    expect(badLogin.stderr).not.toContain('wrong-pw');
    expect(existsSync(join(cliConfig, 'config.json'))).toBe(false);
    const login = await berth(['login', '-u', 'alice', '--password-stdin', host], { input: 'pw-alice\n' });
    expect(login.code, login.stderr).toBe(0);
    // the login lives on the client's side only
    expect(Object.keys((JSON.parse(await readFile(join(cliConfig, 'config.json'), 'utf8')) as { auths: object }).auths)).toEqual([host]);

    const push = await berth(['push', ref]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/^1: digest: sha256:[0-9a-f]{64} size: \d+\n$/);

    const search = await berth(['search', `${host}/team`]);
    expect(search.stdout).toBe(`NAME\n${host}/team/busybox\n`);

    expect((await berth(['rmi', ref])).code).toBe(0);
    // a login file with the wrong password: the node tries it and the error says why
    const wrongConfig = join(t.dir, 'wrong-config');
    await mkdir(wrongConfig, { recursive: true });
    await writeFile(join(wrongConfig, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from('alice:not-her-password').toString('base64') } } }));
    const wrong = await berth(['pull', ref], { config: wrongConfig });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: .*(401|unauthorized|authentication)/i);
    expect(wrong.stderr).not.toContain('not-her-password');
    expect(await t.node.runtime!.images.exists(ref)).toBe(false);

    const pull = await berth(['pull', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toMatch(/^Digest: sha256:[0-9a-f]{64}\nStatus: (Downloaded newer image|Image is up to date) for 127\.0\.0\.1:\d+\/team\/busybox:1\n$/);
    expect(await t.node.runtime!.images.exists(ref)).toBe(true);

    // the header itself: malformed is a 400 naming it, and it is never echoed
    const malformed = await t.api(proxy(`/images/create?fromImage=${encodeURIComponent(ref)}`), { method: 'POST', headers: { 'x-registry-auth': 'not base64 at all!' } });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toBe('X-Registry-Auth: not base64');
    const halfLogin = await t.api(proxy(`/images/create?fromImage=${encodeURIComponent(ref)}`), { method: 'POST', headers: { 'x-registry-auth': Buffer.from(JSON.stringify({ username: 'alice' })).toString('base64url') } });
    expect(halfLogin.status).toBe(400);
    expect(((await halfLogin.json()) as { message: string }).message).toBe('X-Registry-Auth: needs both username and password');
    const streamed = await t.api(proxy(`/images/create?fromImage=${encodeURIComponent(ref)}`), { method: 'POST', headers: { 'x-registry-auth': encodeRegistryAuth({ username: 'alice', password: 'pw-alice' }) } });
    expect(streamed.status).toBe(200);
    const lines = (await streamed.text()).trim().split('\n').map((l) => JSON.parse(l) as { status?: string; aux?: { Name?: string } });
    expect(lines[0]?.status).toBe('Pulling from 127.0.0.1:' + reg.port + '/team/busybox');
    expect(lines.at(-1)?.aux?.Name).toBe(ref);
  });

  it('works from a CLI whose own data dir holds no runtime: import, tag, images, history, save and load, system df', async () => {
    const imported = await berth(['import', '-c', 'CMD ["echo", "from stdin"]', '-m', 'via the node', '-', 'stdin:1'], { input: await readFile(t.tarball) });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await t.node.runtime!.images.inspect('stdin:1')).Config.Cmd).toEqual(['echo', 'from stdin']);
    expect((await berth(['tag', 'stdin:1', 'stdin:2'])).code).toBe(0);
    const images = await berth(['images', 'stdin']);
    expect(images.stdout.split('\n').filter((l) => l.startsWith('stdin ')).map((l) => l.split(/\s+/)[1])).toEqual(['1', '2']);
    const history = await berth(['history', 'stdin:2']);
    expect(history.stdout.split('\n')[1]).toMatch(/^[0-9a-f]{12}\s+.*ago\s+berth import\s+\d+(\.\d+)?MB\s+via the node$/);

    const saved = await t.api(proxy('/images/get?names=stdin:2'));
    expect(saved.status).toBe(200);
    expect(saved.headers.get('content-type')).toBe('application/x-tar');
    const archive = Buffer.from(await saved.arrayBuffer());
    expect((await berth(['rmi', 'stdin:2'])).stdout).toBe('Untagged: stdin:2\n');
    const loaded = await t.api(proxy('/images/load'), { method: 'POST', body: archive, headers: { 'content-type': 'application/x-tar' } });
    expect(loaded.status).toBe(200);
    expect((await loaded.text()).trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ stream: 'Loaded image: stdin:2\n' }]);
    expect(await t.node.runtime!.images.exists('stdin:2')).toBe(true);

    const df = (await (await t.api(proxy('/system/df'))).json()) as { LayersSize: number; Images: { RepoTags: string[] }[] };
    expect(df.LayersSize).toBeGreaterThan(0);
    expect(df.Images.flatMap((i) => i.RepoTags)).toEqual(expect.arrayContaining(['busybox:latest', 'stdin:1', 'stdin:2']));

    // the CLI never made a runtime (or anything else) under its own data dir
    expect(existsSync(cliData)).toBe(false);
    expect(await tmpLeft()).toEqual([]);
  });
});
