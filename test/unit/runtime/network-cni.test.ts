/**
 * The CNI invoker against plugins written here as shell scripts, so that what each plugin is given
 * (stdin config, prevResult, runtimeConfig, CNI_* environment) and the order of the calls can be
 * read back: the libcni contract without the real plugins (those are in the integration tests).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniInvoker, CniPluginError, type NetworkConfigList } from '../../../src/runtime/network/cni.js';

describe('CNI invoker (libcni semantics)', () => {
  let dir: string;
  let cni: CniInvoker;
  const log = () => join(dir, 'calls.log');
  const calls = async () => (await readFile(log(), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  const stdinOf = async (plugin: string, cmd: string) => JSON.parse(await readFile(join(dir, `${plugin}-${cmd}.json`), 'utf8'));

  /** A plugin that records its stdin and environment, then prints `result` (ADD) or nothing. */
  async function plugin(name: string, result: object): Promise<void> {
    const script = `#!/bin/sh
cat > "${dir}/${name}-$CNI_COMMAND.json"
echo "${name} $CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS [$CNI_ARGS] $CNI_PATH" >> "${dir}/calls.log"
if [ "$CNI_COMMAND" = ADD ]; then echo '${JSON.stringify(result)}'; fi
`;
    await writeFile(join(dir, 'bin', name), script);
    await chmod(join(dir, 'bin', name), 0o755);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-cni-unit-'));
    await mkdir(join(dir, 'bin'));
    await plugin('first', { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/ns' }], ips: [{ interface: 0, address: '10.1.0.2/24', gateway: '10.1.0.1' }] });
    await plugin('second', { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/ns' }], ips: [{ interface: 0, address: '10.1.0.2/24', gateway: '10.1.0.1' }], dns: { nameservers: ['10.1.0.1'] } });
    await writeFile(join(dir, 'bin', 'bad'), '#!/bin/sh\necho \'{"cniVersion":"1.0.0","code":7,"msg":"boom","details":"the details"}\'\nexit 1\n');
    await writeFile(join(dir, 'bin', 'slow'), '#!/bin/sh\nexec sleep 10\n');
    await writeFile(join(dir, 'bin', 'mute'), '#!/bin/sh\necho "on stderr" >&2\nexit 3\n');
    for (const p of ['bad', 'slow', 'mute']) await chmod(join(dir, 'bin', p), 0o755);
    cni = new CniInvoker({ pluginDirs: [join(dir, 'bin')], cacheDir: join(dir, 'cache'), timeoutMs: 300 });
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'first', opt: 1 }, { type: 'second', capabilities: { portMappings: true } }] };
  const rt = { containerId: 'c1', netns: '/ns', ifName: 'eth0', args: [['IgnoreUnknown', '1'], ['IP', '10.1.0.9']] as Array<[string, string]>, capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], other: true } };

  it('ADD runs the list in order, each plugin with the previous result, name and version injected, only the capabilities it declares', async () => {
    const res = await cni.addList(list, rt);
    expect(res.dns).toEqual({ nameservers: ['10.1.0.1'] });
    expect(await calls()).toEqual([`first ADD c1 eth0 /ns [IgnoreUnknown=1;IP=10.1.0.9] ${join(dir, 'bin')}`, `second ADD c1 eth0 /ns [IgnoreUnknown=1;IP=10.1.0.9] ${join(dir, 'bin')}`]);
    const first = await stdinOf('first', 'ADD');
    expect(first).toEqual({ type: 'first', opt: 1, name: 'net', cniVersion: '1.0.0' });
    const second = await stdinOf('second', 'ADD');
    expect(second.prevResult.ips[0].address).toBe('10.1.0.2/24');
    expect(second.runtimeConfig).toEqual({ portMappings: rt.capabilityArgs.portMappings });
    // cached with the config and arguments it was made with
    const cached = await cni.cached('net', rt);
    expect(cached).toMatchObject({ containerId: 'c1', networkName: 'net', ifName: 'eth0', config: list, cniArgs: rt.args, result: { dns: { nameservers: ['10.1.0.1'] } } });
    expect((await cni.cachedAttachments('c1')).map((a) => a.networkName)).toEqual(['net']);
  });

  it('CHECK gives every plugin the cached result', async () => {
    await cni.checkList(list, rt);
    expect((await stdinOf('first', 'CHECK')).prevResult.dns).toEqual({ nameservers: ['10.1.0.1'] });
    expect((await stdinOf('second', 'CHECK')).prevResult.dns).toEqual({ nameservers: ['10.1.0.1'] });
  });

  it('DEL runs in reverse with the cached result and the cached arguments, then drops the cache', async () => {
    await writeFile(log(), '');
    await cni.delList(list, { containerId: 'c1', netns: '/ns', ifName: 'eth0' });
    expect((await calls()).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['second DEL', 'first DEL']);
    expect((await calls())[0]).toContain('[IgnoreUnknown=1;IP=10.1.0.9]');
    expect((await stdinOf('second', 'DEL')).prevResult.ips[0].address).toBe('10.1.0.2/24');
    expect(await cni.cached('net', rt)).toBeUndefined();
    await expect(cni.checkList(list, rt)).rejects.toThrow(/no cached result/);
  });

  it("surfaces a plugin's error, its stderr, a missing plugin and a time limit", async () => {
    const one = (type: string): NetworkConfigList => ({ cniVersion: '1.0.0', name: 'net', plugins: [{ type }] });
    const err = await cni.addList(one('bad'), rt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect(err).toMatchObject({ plugin: 'bad', code: 7, msg: 'boom', details: 'the details', message: 'plugin type="bad" failed (add): boom: the details' });
    await expect(cni.addList(one('mute'), rt)).rejects.toThrow('plugin type="mute" failed (add): on stderr (exit 3)');
    await expect(cni.addList(one('absent'), rt)).rejects.toThrow(/plugin type="absent" failed \(find\): plugin not found/);
    await expect(cni.addList(one('slow'), rt)).rejects.toThrow('plugin type="slow" failed (add): timed out after 300 ms');
    await expect(cni.addList(one('../bin/first'), rt)).rejects.toThrow(/invalid plugin type/);
  });

  it('refuses invalid container IDs, network and interface names (libcni validation)', async () => {
    await expect(cni.addList(list, { ...rt, containerId: '../x' })).rejects.toThrow(/invalid container ID/);
    await expect(cni.addList({ ...list, name: 'a/b' }, rt)).rejects.toThrow(/invalid network name/);
    await expect(cni.addList(list, { ...rt, ifName: 'x'.repeat(16) })).rejects.toThrow(/invalid interface name/);
    await expect(cni.addList(list, { ...rt, ifName: 'a:b' })).rejects.toThrow(/invalid interface name/);
  });
});
