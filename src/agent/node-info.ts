/** What the agent reports about its node: capacity, allocatable, versions, addresses. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { BERTH_VERSION } from '../util/version.js';
import { detectCgroupVersion } from '../runtime/index.js';

const run = promisify(execFile);

async function firstLine(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 5000 });
    return stdout.split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function readTrim(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Memory the node may give containers: physical memory, or the agent's own cgroup limit when lower. */
async function memoryBytes(): Promise<number> {
  let total = os.totalmem();
  for (const f of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    const v = Number(await readTrim(f));
    if (Number.isFinite(v) && v > 0 && v < total) total = v;
  }
  return total;
}

async function cpuCount(): Promise<number> {
  let n = os.availableParallelism();
  const v2 = await readTrim('/sys/fs/cgroup/cpu.max');
  if (v2 && !v2.startsWith('max')) {
    const [quota, period] = v2.split(' ').map(Number);
    if (quota && period) n = Math.min(n, quota / period);
  }
  return n;
}

async function pidMax(): Promise<number> {
  return Number(await readTrim('/proc/sys/kernel/pid_max')) || 32768;
}

async function osImage(): Promise<string | undefined> {
  const text = await readTrim('/etc/os-release');
  const m = text ? /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text) : null;
  return m?.[1];
}

const goArch = (a: string): string => ({ x64: 'amd64', arm64: 'arm64', ia32: '386' })[a] ?? a;

export interface NodeFacts {
  capacity: { cpu: string; memory: string; pids: string };
  allocatable: { cpu: string; memory: string; pids: string };
  nodeInfo: Record<string, string>;
  addresses: { type: string; address: string }[];
}

/** Reserved for the system: 5% of memory (at least 64 MiB), none of the CPU. */
export async function nodeFacts(hostname: string): Promise<NodeFacts> {
  const cpu = await cpuCount();
  const mem = await memoryBytes();
  const pids = await pidMax();
  const reserved = Math.max(64 * 1024 * 1024, Math.floor(mem * 0.05));
  const cpuQ = Number.isInteger(cpu) ? String(cpu) : `${Math.floor(cpu * 1000)}m`;
  const nodeInfo: Record<string, string> = {
    berthVersion: BERTH_VERSION,
    runtimeVersion: `berth-runtime/${BERTH_VERSION}`,
    operatingSystem: 'linux',
    architecture: goArch(process.arch),
    kernelVersion: os.release(),
    cgroupVersion: detectCgroupVersion(),
  };
  const runc = await firstLine('runc', ['--version']);
  const conmon = await firstLine('conmon', ['--version']);
  const image = await osImage();
  const machineID = await readTrim('/etc/machine-id');
  const bootID = await readTrim('/proc/sys/kernel/random/boot_id');
  if (runc) nodeInfo.runcVersion = runc.replace(/^runc version /, '');
  if (conmon) nodeInfo.conmonVersion = conmon.replace(/^conmon version /, '');
  if (image) nodeInfo.osImage = image;
  if (machineID) nodeInfo.machineID = machineID;
  if (bootID) nodeInfo.bootID = bootID;
  const addresses = [{ type: 'Hostname', address: hostname }];
  const ip = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  addresses.push({ type: 'InternalIP', address: ip?.address ?? '127.0.0.1' });
  return {
    capacity: { cpu: cpuQ, memory: String(mem), pids: String(pids) },
    allocatable: { cpu: cpuQ, memory: String(Math.max(0, mem - reserved)), pids: String(pids) },
    nodeInfo,
    addresses,
  };
}
