/**
 * The runtime's network service with the real CNI plugins (bridge, host-local, portmap, loopback),
 * real namespaces and iptables-nft: prevResult chaining (portmap's DNAT reaches the address the
 * bridge's IPAM gave), CHECK, DEL, the result cache, CNI_ARGS, errors, and the sweep after a crash.
 * Traffic only to loopback and into namespaces made here; the subnets are internal /24s.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniPluginError, Runtime } from '../../../src/runtime/index.js';
import { expectHostRestored, hostNetState, type HostNetState } from '../../helpers/test-network.js';
import { makeTempRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason() ?? (existsSync('/usr/lib/cni/bridge') ? undefined : 'needs the CNI plugins in /usr/lib/cni');
const BUSYBOX_TAR = '/usr/local/share/berth/busybox-rootfs.tar';
const POLL = { timeout: 30_000, interval: 100 };
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();

describe.skipIf(!!skip || !existsSync(BUSYBOX_TAR))('runtime networking with the CNI plugins', { timeout: 120_000 }, () => {
  let root: string;
  let rt: Runtime;
  let before: HostNetState;
  const cgroupParent = `berth-test-net-${process.pid}`;
  const bridge = `btr${Math.random().toString(16).slice(2, 8)}`;
  let subnet: string;

  beforeAll(async () => {
    before = hostNetState();
    root = await makeTempRoot('net');
    rt = new Runtime({ root, cgroupParent });
    await rt.importImage(BUSYBOX_TAR, { ref: 'busybox:latest' });
    await rt.networks.start({ dnsUpstreams: [] });
    subnet = (await rt.networks.freeSubnet('10.252.0.0/16', 24))!;
    await rt.networks.define({ name: 'net1', bridge, subnet, internal: true });
  });

  afterAll(async () => {
    for (const c of await rt.containers.list({ all: true })) await rt.containers.remove(c.id, { force: true });
    await rt.networks.prune();
    await rt.close();
    await rm(root, { recursive: true, force: true });
    execFileSync('sh', ['-c', `for d in /sys/fs/cgroup/*/${cgroupParent}; do rmdir $d 2>/dev/null; done; true`]);
    await expectHostRestored(before, [root]);
  });

  it('ADD chains the bridge result into portmap (its DNAT goes to the address IPAM gave), caches it, DEL undoes all of it', async () => {
    const c = await rt.containers.create({ image: 'busybox:latest', name: 'web', command: ['sh', '-c', 'echo hi > /tmp/i.html && exec httpd -f -p 80 -h /tmp'], network: 'bridge', networks: [{ name: 'net1', aliases: ['web'] }], ports: [{ containerPort: 80, hostPort: 0, protocol: 'tcp' }] });
    await rt.tasks.start(c.id);
    const att = (await rt.networks.attachment(c.id))!;
    expect(att.state).toBe('ready');
    const ip = att.networks[0]!.ip!;
    const hostPort = att.ports[0]!.hostPort;
    expect(hostPort).toBeGreaterThan(0);
    // portmap knew the address only from prevResult
    expect(sh('iptables-save -t nat')).toContain(`--to-destination ${ip}:80`);
    await expect.poll(() => fetch(`http://127.0.0.1:${hostPort}/i.html`).then((r) => r.text()).catch(() => ''), POLL).toBe('hi\n');
    // the cached result, as libcni keeps it: config, runtime args and the final result
    const cached = JSON.parse(await readFile(join(root, 'network', 'cni-cache', 'results', `net1-${c.id}-eth0`), 'utf8'));
    expect(cached).toMatchObject({ kind: 'berthCniCacheV1', containerId: c.id, ifName: 'eth0', networkName: 'net1', config: { plugins: [{ type: 'bridge' }, { type: 'portmap' }] }, capabilityArgs: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }] } });
    expect(cached.result.ips[0].address).toBe(`${ip}/24`);
    const veth = (await readdir(`/sys/class/net/${bridge}/brif`))[0]!;
    expect(await readdir(join(root, 'network', 'ipam', 'net1'))).toContain(ip);

    await rt.containers.remove(c.id, { force: true });
    expect(sh('iptables-save -t nat')).not.toContain(c.id);
    expect(existsSync(join(root, 'network', 'cni-cache', 'results', `net1-${c.id}-eth0`))).toBe(false);
    expect(await readdir(join(root, 'network', 'ipam', 'net1'))).not.toContain(ip);
    expect(existsSync(join(root, 'netns', c.id))).toBe(false);
    await expect.poll(() => existsSync(`/sys/class/net/${veth}`), POLL).toBe(false);
    expect(rt.networks.dnsEntries()).toEqual([]);
  });

  it('CHECK passes on a sound attachment and fails, naming the plugin, once its veth is gone; a restart then attaches again', async () => {
    const c = await rt.containers.create({ image: 'busybox:latest', name: 'checked', command: ['sleep', '3600'], network: 'bridge', networks: [{ name: 'net1', aliases: [] }] });
    await rt.tasks.start(c.id);
    await rt.networks.check(c.id);
    const veth = (await readdir(`/sys/class/net/${bridge}/brif`))[0]!;
    execFileSync('ip', ['link', 'del', veth]);
    const err = await rt.networks.check(c.id).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as Error).message).toMatch(/plugin type="bridge" failed \(check\)/);
    // an exit keeps the attachment; the next start CHECKs it, finds it broken and attaches again
    await rt.tasks.kill(c.id, 'KILL');
    await expect.poll(async () => (await rt.tasks.state(c.id)).status, POLL).toBe('exited');
    await rt.tasks.start(c.id);
    await rt.networks.check(c.id);
    expect((await rt.tasks.exec(c.id, { cmd: ['ls', '/sys/class/net'] })).stdout.split(/\s+/).filter(Boolean).sort()).toEqual(['eth0', 'lo']);
    await rt.containers.remove(c.id, { force: true });
  });

  it('a fixed address goes through CNI_ARGS; the same address twice fails naming the field and leaves nothing half-made', async () => {
    const ip = subnet.replace(/0\/24$/, '42');
    const a = await rt.containers.create({ image: 'busybox:latest', name: 'fixed-a', command: ['sleep', '3600'], network: 'bridge', networks: [{ name: 'net1', aliases: [], ipv4Address: ip }] });
    await rt.tasks.start(a.id);
    expect((await rt.tasks.exec(a.id, { cmd: ['ip', '-o', '-4', 'addr', 'show', 'eth0'] })).stdout).toContain(`inet ${ip}/24`);
    const ports = (await readdir(`/sys/class/net/${bridge}/brif`)).length;
    const b = await rt.containers.create({ image: 'busybox:latest', name: 'fixed-b', command: ['sleep', '3600'], network: 'bridge', networks: [{ name: 'net1', aliases: [], ipv4Address: ip }] });
    await expect(rt.tasks.start(b.id)).rejects.toThrow(`networks[0].ipv4Address: ${ip} is already in use on network net1`);
    expect(await rt.networks.attachment(b.id)).toBeUndefined();
    expect((await readdir(join(root, 'network', 'cni-cache', 'results'))).filter((f) => f.includes(b.id))).toEqual([]);
    expect(await readdir(`/sys/class/net/${bridge}/brif`)).toHaveLength(ports);
    expect((await readFile(join(root, 'network', 'ipam', 'net1', ip), 'utf8')).startsWith(a.id)).toBe(true);
    // outside the subnet: refused at create, before anything is made
    await expect(rt.containers.create({ image: 'busybox:latest', name: 'fixed-c', command: ['true'], network: 'bridge', networks: [{ name: 'net1', aliases: [], ipv4Address: '10.9.9.9' }] })).rejects.toThrow(/^networks\[0\]\.ipv4Address: 10\.9\.9\.9 is not a host address/);
    expect((await rt.containers.list({ all: true })).map((c) => c.name).sort()).toEqual(['fixed-a', 'fixed-b']);
    for (const c of [a, b]) await rt.containers.remove(c.id, { force: true });
  });

  it('refuses an invalid or overlapping subnet and a port in use, naming the field', async () => {
    await expect(rt.networks.define({ name: 'bad', bridge: 'btbad0', subnet: '10.252.0.1/24' })).rejects.toThrow(/^subnet: "10\.252\.0\.1\/24" is not an IPv4 CIDR block/);
    await expect(rt.networks.define({ name: 'over', bridge: 'btover0', subnet })).rejects.toThrow(`subnet: ${subnet} overlaps network net1 (${subnet}) on this node`);
    // a route of the node (its own eth0's) is as good as taken
    const route = JSON.parse(sh('ip -j -4 route show')).find((r: { dst: string; dev: string }) => r.dst !== 'default' && !r.dev.startsWith('bt'));
    if (route) await expect(rt.networks.define({ name: 'onhost', bridge: 'bthost0', subnet: route.dst })).rejects.toThrow(/^subnet: .* overlaps the route/);
    expect((await rt.networks.list()).map((n) => n.name)).toEqual(['net1']);
    const { createServer } = await import('node:net');
    const blocker = createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '0.0.0.0', () => r((blocker.address() as { port: number }).port)));
    try {
      const c = await rt.containers.create({ image: 'busybox:latest', name: 'clash', command: ['sleep', '3600'], network: 'bridge', networks: [{ name: 'net1', aliases: [] }], ports: [{ containerPort: 80, hostPort: port, protocol: 'tcp' }] });
      await expect(rt.tasks.start(c.id)).rejects.toThrow(`ports[0].hostPort: 0.0.0.0:${port}/TCP is already in use on this node`);
      expect(await rt.networks.attachment(c.id)).toBeUndefined();
      expect(sh('iptables-save -t nat')).not.toContain(c.id);
      await rt.containers.remove(c.id, { force: true });
    } finally {
      blocker.close();
    }
  });

  it('sweep undoes what a crash left with no container behind it: attachment, cached results, namespace, lease', async () => {
    const id = 'f'.repeat(64);
    const ns = await rt.networks.netns.create(id);
    const att = await rt.networks.attach(id, ns, { networks: [{ name: 'net1', aliases: ['ghost'] }], ports: [] });
    const ip = att.networks[0]!.ip!;
    expect(rt.networks.dnsEntries().map((e) => e.name)).toEqual(['ghost']);
    // and an atomic write a kill cut short
    await writeFile(join(root, 'network', 'attachments', `${id}.json.tmp-0123456789ab`), '{"containerId":');
    const removed = await rt.sweepNetworks();
    expect(removed).toEqual(expect.arrayContaining([`attachment ${id}`, `netns ${id}`, `temporary file ${id}.json.tmp-0123456789ab`]));
    expect(await readdir(join(root, 'network', 'attachments'))).toEqual([]);
    expect(await rt.networks.attachment(id)).toBeUndefined();
    expect(await readdir(join(root, 'network', 'ipam', 'net1'))).not.toContain(ip);
    expect(existsSync(join(root, 'netns', id))).toBe(false);
    expect((await readdir(join(root, 'network', 'cni-cache', 'results'))).filter((f) => f.includes(id))).toEqual([]);
    expect(rt.networks.dnsEntries()).toEqual([]);
  });
});
