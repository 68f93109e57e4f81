/** The networking flags `berth server` and `berth agent` share, and the agent options they make. */
import type { NetworkOptions } from '../agent/network-reconciler.js';
import type { FlagSpecs } from '../cli/args.js';
import { CliError } from '../cli/errors.js';
import { parseUpstream } from '../runtime/index.js';
import { parseCidr } from '../util/ipv4.js';

export const networkFlags = {
  'default-subnet': { type: 'string', valueName: 'CIDR', description: "subnet of the node's default network (docker's --bip); default: the first free /16 of --default-pool" },
  'default-pool': { type: 'string', valueName: 'CIDR', description: "where the default network's subnet is picked when --default-subnet is not given (default 172.17.0.0/16)" },
  'default-prefix': { type: 'string', valueName: 'BITS', description: 'prefix length of the default network picked from --default-pool (default 16)' },
  'default-bridge': { type: 'string', valueName: 'NAME', description: "bridge of the default network (default berth0, or berth1... when another Berth runtime holds it)" },
  'default-network-internal': { type: 'boolean', description: 'the default network has no way out of the node (no default route, no masquerade)' },
  'network-pool': { type: 'string', valueName: 'CIDR', description: 'where Networks without spec.subnet get a /24 (default 10.89.0.0/16)' },
  'dns-upstream': { type: 'string', multiple: true, valueName: 'ADDR[:PORT]', description: "resolvers the embedded DNS forwards other names to (default: the node's /etc/resolv.conf); 'none' forwards nothing" },
} as const satisfies FlagSpecs;

type Values = { [K in keyof typeof networkFlags]?: (typeof networkFlags)[K] extends { multiple: true } ? string[] : (typeof networkFlags)[K]['type'] extends 'boolean' ? boolean : string };

function cidrFlag(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!parseCidr(v)) throw new CliError(`--${name}: ${JSON.stringify(v)} is not an IPv4 CIDR block such as 10.88.0.0/16 (host bits zero)`);
  return v;
}

export function networkOptionsFrom(v: Values): NetworkOptions {
  const o: NetworkOptions = {};
  const subnet = cidrFlag('default-subnet', v['default-subnet']);
  const pool = cidrFlag('default-pool', v['default-pool']);
  const userPool = cidrFlag('network-pool', v['network-pool']);
  if (subnet) o.defaultSubnet = subnet;
  if (pool) o.defaultPool = pool;
  if (userPool) o.userPool = userPool;
  if (v['default-prefix'] !== undefined) {
    const n = Number(v['default-prefix']);
    if (!Number.isInteger(n) || n < 8 || n > 29) throw new CliError('--default-prefix: must be a prefix length between 8 and 29');
    o.defaultPrefix = n;
  }
  if (v['default-bridge'] !== undefined) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(v['default-bridge'])) throw new CliError('--default-bridge: must be an interface name of at most 15 characters [a-zA-Z0-9_.-]');
    o.defaultBridge = v['default-bridge'];
  }
  if (v['default-network-internal']) o.defaultInternal = true;
  const ups = v['dns-upstream'];
  if (ups && ups.length > 0) {
    o.dnsUpstreams = ups.includes('none')
      ? []
      : ups.map((u) => {
          const p = parseUpstream(u);
          if (!p) throw new CliError(`--dns-upstream: ${JSON.stringify(u)} is not ADDR or ADDR:PORT`);
          return p;
        });
  }
  return o;
}
