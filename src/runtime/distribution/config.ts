import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { invalid, isNodeError } from '../util/errors.js';
import { DOCKER_HUB } from './reference.js';

/** The registry part of Docker's daemon.json. */
export const DaemonConfigSchema = z.looseObject({
  'registry-mirrors': z.array(z.string()).optional(),
  'insecure-registries': z.array(z.string()).optional(),
});
export type DaemonConfig = z.infer<typeof DaemonConfigSchema>;

export interface DistributionConfig {
  /** Mirrors of Docker Hub (URLs), tried in order before docker.io itself. */
  mirrors: string[];
  /** Registries reached over plain HTTP (or HTTPS without verification): host[:port] or CIDR. */
  insecure: string[];
  /** Like /etc/docker/certs.d: <certsDir>/<host[:port]>/ca.crt is the CA a registry's certificate is checked against. */
  certsDir?: string;
}

export async function loadDaemonConfig(path: string): Promise<DistributionConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return { mirrors: [], insecure: [] };
    throw invalid(`${path}: ${(e as Error).message}`);
  }
  const r = DaemonConfigSchema.safeParse(raw);
  if (!r.success) throw invalid(`${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { mirrors: r.data['registry-mirrors'] ?? [], insecure: r.data['insecure-registries'] ?? [] };
}

function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i > 0 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, p) => (n << 8) + Number(p), 0) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsStr] = cidr.split('/');
  const bits = Number(bitsStr);
  if (!net || isIP(net) !== 4 || isIP(ip) !== 4 || !Number.isInteger(bits)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(net) & mask);
}

/** Docker treats loopback registries as insecure without configuration. */
export function isInsecureRegistry(registry: string, cfg: DistributionConfig): boolean {
  const host = hostOnly(registry);
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return true;
  return cfg.insecure.some((entry) => {
    const e = entry.replace(/^https?:\/\//, '').replace(/\/$/, '');
    return e === registry || e === host || (e.includes('/') && inCidr(host, e));
  });
}

/** Registry base URLs to try for a host, in order (mirrors first for Docker Hub). */
export function endpointsFor(registry: string, cfg: DistributionConfig, apiHost: string): Array<{ base: string; insecure: boolean; mirror: boolean }> {
  const out: Array<{ base: string; insecure: boolean; mirror: boolean }> = [];
  if (registry === DOCKER_HUB) {
    for (const m of cfg.mirrors) {
      const u = new URL(m);
      out.push({ base: `${u.protocol}//${u.host}`, insecure: u.protocol === 'http:' || isInsecureRegistry(u.host, cfg), mirror: true });
    }
  }
  const insecure = isInsecureRegistry(registry, cfg);
  out.push({ base: `${insecure ? 'http' : 'https'}://${apiHost}`, insecure, mirror: false });
  return out;
}
