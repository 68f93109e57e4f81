/**
 * berth run's security flags (issue 16 with issue 17's admission) against a real `berth server`:
 * --privileged and --security-opt seccomp=unconfined are refused with 125 and the PodSecurity rule in
 * a baseline namespace, leaving nothing; in a privileged namespace they give what Docker gives
 * (every capability, no seccomp filter), and --cap-drop ALL leaves none.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv } from '../helpers/berth-bin.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const skip = e2eSkipReason('docker security flags', ['runc', 'conmon']);
if (skip) console.warn(`skipping docker security flags e2e: ${skip}`);

describe.skipIf(!!skip)('berth run --privileged, --security-opt, --cap-add/--cap-drop', () => {
  let dir: string;
  let server: ServerProcess;
  const cgroupParent = `berth-e2e-dsec-${process.pid}`;
  const berth = (args: string[]) => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { timeoutMs: 90_000, env: { ...process.env, KUBECONFIG: server.kubeconfig } });
  };
  const names = async (ns: string) => (JSON.parse((await berth(['get', 'containers', '-n', ns, '-o', 'json'])).stdout) as { items: { metadata: { name: string } }[] }).items.map((c) => c.metadata.name);
  /** Seccomp mode and effective capabilities of the container's first process. */
  const security = async (ns: string, flags: string[]) => {
    const r = await berth(['run', '--rm', '--namespace', ns, ...flags, 'busybox', 'grep', '-E', '^(Seccomp|CapEff):', '/proc/self/status']);
    expect(r.code, r.stderr).toBe(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-dsec-'));
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'dsec']);
    const imp = await berth(['import', BUSYBOX_TAR, 'busybox']);
    expect(imp.code, imp.stderr).toBe(0);
    const nsFile = join(dir, 'ns.yaml');
    await writeFile(nsFile, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: priv, labels: {berth.dev/enforce: privileged}}\n');
    const ns = await berth(['apply', '-f', nsFile]);
    expect(ns.code, ns.stderr).toBe(0);
  }, 120_000);

  afterAll(() => cleanUpE2eServer(server, dir, cgroupParent));

  it('refuses --privileged and seccomp=unconfined in a baseline namespace with 125, naming the field, leaving nothing', async () => {
    const priv = await berth(['run', '--rm', '--privileged', 'busybox', 'true']);
    expect(priv.code).toBe(125);
    expect(priv.stderr).toContain('violates PodSecurity "baseline"');
    expect(priv.stderr).toContain('spec.privileged');
    const unconfined = await berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'true']);
    expect(unconfined.code).toBe(125);
    expect(unconfined.stderr).toContain('spec.seccompProfile');
    const apparmor = await berth(['run', '--rm', '--security-opt', 'apparmor=unconfined', 'busybox', 'true']);
    expect(apparmor.code).toBe(125);
    expect(apparmor.stderr).toContain('security-opt apparmor=unconfined is not supported by Berth');
    expect(await names('default')).toEqual([]);
  }, 120_000);

  it("gives Docker's default, privileged, unconfined and capability-dropped processes in a privileged namespace", async () => {
    const base = await security('priv', []);
    expect(base).toEqual({ Seccomp: '2', CapEff: '00000000a80425fb' });
    const priv = await security('priv', ['--privileged']);
    expect(priv.Seccomp).toBe('0');
    // every capability the node has (its own bounding set, which may lack some, as CAP_SYS_RESOURCE here)
    const hostBounding = /^CapBnd:\s+(\w+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1]!;
    expect(priv.CapEff).toBe(hostBounding);
    expect(await security('priv', ['--security-opt', 'seccomp=unconfined'])).toEqual({ Seccomp: '0', CapEff: '00000000a80425fb' });
    expect(await security('priv', ['--cap-drop', 'ALL'])).toEqual({ Seccomp: '2', CapEff: '0000000000000000' });
    expect(await security('priv', ['--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE'])).toEqual({ Seccomp: '2', CapEff: '0000000000000400' });
    expect(await names('priv')).toEqual([]);
  }, 180_000);
});
