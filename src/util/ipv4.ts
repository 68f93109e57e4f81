/**
 * IPv4 addresses and CIDR blocks as 32-bit numbers: what the network service needs to check a
 * subnet, a gateway, a range or a fixed address before any plugin runs, and to tell overlaps apart.
 * (IPv4 only: Berth's networks are IPv4, as Docker's default ones are.)
 */
import { isIPv4 } from 'node:net';

export interface Cidr {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
}

export function parseIPv4(s: string): number | undefined {
  if (!isIPv4(s)) return undefined;
  return s.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

const size = (prefix: number): number => 2 ** (32 - prefix);

/** "10.1.2.0/24" → its block; undefined when it is not an IPv4 CIDR or has host bits set. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const addr = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  if (addr % size(prefix) !== 0) return undefined;
  return { network: addr, prefix };
}

/** Like parseCidr, but host bits are allowed and cleared ("10.1.2.3/24" → 10.1.2.0/24): for routes and addresses. */
export function blockOf(s: string): Cidr | undefined {
  const [ip, p] = s.split('/');
  const addr = parseIPv4(ip ?? '');
  const prefix = p === undefined ? 32 : Number(p);
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  return { network: addr - (addr % size(prefix)), prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefix}`;
}

export function lastAddress(c: Cidr): number {
  return c.network + size(c.prefix) - 1;
}

export function contains(c: Cidr, addr: number): boolean {
  return addr >= c.network && addr <= lastAddress(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** Whether `inner` lies inside `outer`. */
export function within(inner: Cidr, outer: Cidr): boolean {
  return inner.network >= outer.network && lastAddress(inner) <= lastAddress(outer);
}

/** Usable host addresses of a block: neither the network nor the broadcast address (for /31 and /32: none). */
export function isHostAddress(c: Cidr, addr: number): boolean {
  return c.prefix <= 30 && addr > c.network && addr < lastAddress(c);
}
