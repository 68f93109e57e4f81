/**
 * Issue 17, finding 5: a container's capability set, seccomp filter, no_new_privs and /proc and
 * /sys mounts as the kernel reports them from inside, on real runc.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { capabilityMask, DEFAULT_CAPABILITIES } from '../../../src/runtime/security/capabilities.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
const CGROUP_PARENT = `berth-test-iso-${process.pid}`;

describe.skipIf(skip !== undefined)('container isolation (Docker defaults)', () => {
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    root = await makeTempRoot('isolation');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(root), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
  });

  /** Runs a shell script in a new container with these security options; its output. */
  async function run(script: string, security: Record<string, unknown> = {}): Promise<string> {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', script], security });
    try {
      await rt.tasks.start(c.id);
      await rt.tasks.wait(c.id);
      const out: string[] = [];
      for await (const l of rt.tasks.logs(c.id)) out.push(l.line);
      return out.join('\n');
    } finally {
      await rt.containers.remove(c.id, { force: true });
    }
  }

  const field = (status: string, name: string): string => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? `no ${name}`;

  it("by default: Docker's capabilities, seccomp filter mode, no_new_privs", async () => {
    const status = await run('cat /proc/self/status');
    expect(field(status, 'CapEff')).toBe(capabilityMask(DEFAULT_CAPABILITIES));
    expect(field(status, 'CapBnd')).toBe(capabilityMask(DEFAULT_CAPABILITIES));
    expect(field(status, 'Seccomp')).toBe('2');
    expect(field(status, 'NoNewPrivs')).toBe('1');
  });

  it('capDrop ALL leaves no capability; capAdd adds on top of the defaults', async () => {
    const none = await run('cat /proc/self/status', { capDrop: ['ALL'] });
    expect(field(none, 'CapEff')).toBe('0000000000000000');
    expect(field(none, 'CapBnd')).toBe('0000000000000000');
    const added = await run('cat /proc/self/status', { capAdd: ['NET_ADMIN'], capDrop: ['NET_RAW'] });
    expect(field(added, 'CapEff')).toBe(capabilityMask([...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW'), 'CAP_NET_ADMIN']));
  });

  it('the filter refuses what Docker refuses (unshare of a user namespace), unconfined does not filter', async () => {
    expect(await run('unshare -U true 2>/dev/null && echo allowed || echo refused')).toBe('refused');
    const unconfined = await run('grep Seccomp: /proc/self/status');
    expect(unconfined).toMatch(/Seccomp:\s+2/);
    expect(await run('grep Seccomp: /proc/self/status', { seccomp: 'unconfined' })).toMatch(/Seccomp:\s+0/);
  });

  it('/proc and /sys are nosuid,noexec,nodev; masked paths are empty; read-only paths are read-only', async () => {
    const mounts = await run('grep -E " /proc | /sys " /proc/self/mounts');
    for (const line of mounts.split('\n')) expect(line).toMatch(/nosuid.*nodev.*noexec|nosuid,nodev,noexec/);
    expect(mounts.split('\n')).toHaveLength(2);
    // each masked path the host has is empty inside (those the host lacks are absent inside too)
    expect(await run('for p in /proc/keys /proc/timer_list /proc/kcore; do [ -e $p ] && wc -c < $p; done')).toMatch(/^0(\n0)*$/);
    expect(await run('echo 1 > /proc/sys/kernel/panic && echo wrote')).toMatch(/^sh: can't create \/proc\/sys\/kernel\/panic: Read-only file system$/);
  });

  it('exec gets the container capabilities and filter', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sleep', '100'], security: { capDrop: ['ALL'] } });
    try {
      await rt.tasks.start(c.id);
      const r = await rt.tasks.exec(c.id, { cmd: ['sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status'] });
      expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
      expect(r.stdout).toMatch(/Seccomp:\s+2/);
    } finally {
      await rt.containers.remove(c.id, { force: true });
    }
  });

  it('privileged gets every capability and no filter; runAsNonRoot refuses root; bad capability names are refused', async () => {
    const priv = await run('grep -E "^(CapEff|Seccomp):" /proc/self/status', { privileged: true });
    expect(priv).toMatch(/Seccomp:\s+0/);
    // every capability the runtime itself has
    const own = /^CapBnd:\s*(\S+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    expect(priv).toContain(`CapEff:\t${own}`);
    await expect(rt.containers.create({ image: 'test/busybox', command: ['true'], security: { runAsNonRoot: true } })).rejects.toThrow(/runAsNonRoot/);
    await expect(rt.containers.create({ image: 'test/busybox', command: ['true'], security: { capAdd: ['BOGUS'] } })).rejects.toThrow(/capAdd: unknown capability/);
    expect(await rt.containers.list({ all: true })).toEqual([]);
  });
});
