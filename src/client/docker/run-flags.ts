/**
 * Docker's run/create flags → a ContainerCreate body, as the docker CLI builds it (so both fronts
 * share one mapping to Berth objects afterwards). Messages are the docker CLI's.
 */
import type { CreateBody } from './create-body.js';
import { DockerError } from './names.js';
import { keyValues } from './filters.js';

export interface RunFlagValues {
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  env?: string[];
  envFileLines?: string[];
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  volume?: string[];
  mount?: string[];
  volumesFrom?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  restart?: string;
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  readOnly?: boolean;
  privileged?: boolean;
  securityOpt?: string[];
  capAdd?: string[];
  capDrop?: string[];
  entrypoint?: string;
  network?: string;
  networkAliases?: string[];
  ip?: string;
  label?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  attachStdin?: boolean;
}

/** "512m", "1g", "1024" → bytes (docker's RAMInBytes: binary units). */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new DockerError(`invalid argument "${s}" for "-m, --memory" flag: invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(m[1]) * (mult[(m[2] ?? '').toLowerCase()] ?? 1));
}

/** Most ports one -p or --expose range may name (docker sets none; a bound keeps a typo from making 60,000 rules). */
export const MAX_PORT_RANGE = 1000;

/** "80" or "8000-8010" → [first, last]; undefined for what is neither. */
function portRange(s: string): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  return first >= 1 && last <= 65535 && first <= last ? [first, last] : undefined;
}

function rangeSize(spec: string, [first, last]: [number, number]): number {
  const n = last - first + 1;
  if (n > MAX_PORT_RANGE) throw new DockerError(`invalid port range in ${spec}: ${n} ports, Berth publishes at most ${MAX_PORT_RANGE} per range`);
  return n;
}

/**
 * -p [IP:][HOST:]CONTAINER[/PROTO] → PortBindings entries and ExposedPorts, one per port: a range of container
 * ports (80-82, with host ports 8000-8002 of the same length or none) is as many ports, as docker's.
 */
export function parsePublish(spec: string): { key: string; binding: { HostIp: string; HostPort: string } }[] {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new DockerError(`invalid proto: ${proto}`);
  }
  let ip = '';
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracket) {
    ip = bracket[1]!;
    rest = bracket[2]!;
  }
  const parts = rest.split(':');
  if (parts.length > 3) throw new DockerError(`invalid port format for --publish: ${spec}`);
  let host = '';
  let container = parts[parts.length - 1]!;
  if (parts.length === 3) [ip, host, container] = parts as [string, string, string];
  else if (parts.length === 2) [host, container] = parts as [string, string];
  const cRange = portRange(container);
  if (!cRange) throw new DockerError(`invalid containerPort: ${container}`);
  const hRange = host === '' ? undefined : portRange(host);
  if (host !== '' && !hRange) throw new DockerError(`invalid hostPort: ${host}`);
  if (ip !== '' && !/^[0-9.]+$|^[0-9a-fA-F:]+$/.test(ip)) throw new DockerError(`invalid IP address: ${ip}`);
  const n = rangeSize(spec, cRange);
  if (hRange && hRange[1] - hRange[0] + 1 !== n) {
    // docker lets one container port take any free port of a host range; Berth publishes a port it is given
    if (n === 1) throw new DockerError(`invalid port range in ${spec}: a host port range for one container port is not supported by Berth; give one host port, or a container range of the same length`);
    throw new DockerError(`invalid ranges specified for container and host Ports: ${container} and ${host}`);
  }
  return Array.from({ length: n }, (_, i) => ({ key: `${cRange[0] + i}/${proto}`, binding: { HostIp: ip, HostPort: hRange ? String(hRange[0] + i) : '' } }));
}

/** --expose PORT[-PORT][/PROTO] → ExposedPorts keys. */
export function parseExpose(spec: string): string[] {
  const [ports = '', proto = 'tcp'] = spec.split('/');
  const r = portRange(ports);
  if (!r || !['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new DockerError(`invalid range format for --expose specification: "${spec}"`);
  return Array.from({ length: rangeSize(spec, r) }, (_, i) => `${r[0] + i}/${proto.toLowerCase()}`);
}

/** --mount type=bind,source=/x,target=/y[,readonly] */
function parseMount(spec: string): NonNullable<NonNullable<CreateBody['HostConfig']>['Mounts']>[number] {
  const m: { Type: string; Source?: string; Target?: string; ReadOnly?: boolean } = { Type: 'volume' };
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    switch (key) {
      case 'type':
        m.Type = value ?? '';
        break;
      case 'source':
      case 'src':
        m.Source = value ?? '';
        break;
      case 'target':
      case 'destination':
      case 'dst':
        m.Target = value ?? '';
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = value === undefined || value === 'true' || value === '1';
        break;
      default:
        throw new DockerError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw new DockerError(`invalid argument "${spec}" for "--mount" flag: target is required`);
  return m;
}

/** KEY=VALUE, or KEY alone: taken from this environment when set there (docker's -e KEY). */
function envEntry(e: string, environ: NodeJS.ProcessEnv): string | undefined {
  if (e.includes('=')) {
    if (e.startsWith('=')) throw new DockerError(`invalid environment variable: ${e}`);
    return e;
  }
  const v = environ[e];
  return v === undefined ? undefined : `${e}=${v}`;
}

export function createBodyFromFlags(image: string, command: string[], f: RunFlagValues, environ: NodeJS.ProcessEnv = process.env): CreateBody {
  const env: string[] = [];
  for (const line of f.envFileLines ?? []) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const e = envEntry(t, environ);
    if (e) env.push(e);
  }
  for (const e of f.env ?? []) {
    const x = envEntry(e, environ);
    if (x) env.push(x);
  }
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const p of f.publish ?? []) {
    for (const { key, binding } of parsePublish(p)) {
      (portBindings[key] ??= []).push(binding);
      exposed[key] = {};
    }
  }
  for (const e of f.expose ?? []) for (const key of parseExpose(e)) exposed[key] = {};
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of f.volume ?? []) {
    if (/^\/[^:]*$/.test(v)) volumes[v] = {};
    else if (!v.includes(':')) throw new DockerError(`invalid volume specification: '${v}': invalid mount config for type "volume": invalid mount path: '${v}' mount path must be absolute`);
    else binds.push(v);
  }
  const labels = keyValues(f.label);
  let restart: { Name: string; MaximumRetryCount: number } | undefined;
  if (f.restart) {
    const [name, count] = f.restart.split(':');
    restart = { Name: name ?? '', MaximumRetryCount: count ? Number(count) : 0 };
    if (count !== undefined && (!/^\d+$/.test(count) || name !== 'on-failure')) throw new DockerError(`invalid restart policy format: ${f.restart}`);
  }
  let nanoCpus: number | undefined;
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    if (!Number.isFinite(n) || n <= 0) throw new DockerError(`invalid argument "${f.cpus}" for "--cpus" flag: failed to parse ${f.cpus} as a rational number`);
    nanoCpus = Math.round(n * 1e9);
  }
  let pids: number | undefined;
  if (f.pidsLimit !== undefined) {
    if (!/^-?\d+$/.test(f.pidsLimit)) throw new DockerError(`invalid argument "${f.pidsLimit}" for "--pids-limit" flag: strconv.ParseInt: parsing "${f.pidsLimit}": invalid syntax`);
    pids = Number(f.pidsLimit);
  }
  let stopTimeout: number | undefined;
  if (f.stopTimeout !== undefined) {
    if (!/^-?\d+$/.test(f.stopTimeout)) throw new DockerError(`invalid argument "${f.stopTimeout}" for "--stop-timeout" flag: strconv.ParseInt: parsing "${f.stopTimeout}": invalid syntax`);
    stopTimeout = Number(f.stopTimeout);
  }
  const network = f.network;
  const userNetwork = network !== undefined && !['', 'default', 'bridge', 'host', 'none'].includes(network) && !network.startsWith('container:');
  if ((f.networkAliases?.length || f.ip) && !userNetwork) throw new DockerError(f.ip ? 'user specified IP address is supported on user defined networks only (--ip needs --network NAME)' : 'network-scoped alias is supported only for containers in user defined networks (--network-alias needs --network NAME)');
  const endpoint = userNetwork && (f.networkAliases?.length || f.ip) ? { [network]: { ...(f.networkAliases?.length ? { Aliases: f.networkAliases } : {}), ...(f.ip ? { IPAMConfig: { IPv4Address: f.ip } } : {}) } } : undefined;
  return {
    Image: image,
    ...(command.length ? { Cmd: command } : {}),
    ...(f.entrypoint !== undefined ? { Entrypoint: f.entrypoint === '' ? [''] : [f.entrypoint] } : {}),
    ...(env.length ? { Env: env } : {}),
    ...(f.workdir ? { WorkingDir: f.workdir } : {}),
    ...(f.user ? { User: f.user } : {}),
    ...(f.hostname ? { Hostname: f.hostname } : {}),
    Tty: f.tty === true,
    OpenStdin: f.interactive === true,
    StdinOnce: f.interactive === true && f.attachStdin === true,
    AttachStdin: f.attachStdin === true,
    AttachStdout: true,
    AttachStderr: true,
    ...(Object.keys(labels).length ? { Labels: labels } : {}),
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    ...(Object.keys(volumes).length ? { Volumes: volumes } : {}),
    ...(f.stopSignal ? { StopSignal: f.stopSignal } : {}),
    ...(stopTimeout !== undefined ? { StopTimeout: stopTimeout } : {}),
    HostConfig: {
      ...(binds.length ? { Binds: binds } : {}),
      ...(f.mount?.length ? { Mounts: f.mount.map(parseMount) } : {}),
      ...(Object.keys(portBindings).length ? { PortBindings: portBindings } : {}),
      ...(f.publishAll ? { PublishAllPorts: true } : {}),
      ...(restart ? { RestartPolicy: restart } : {}),
      ...(f.rm ? { AutoRemove: true } : {}),
      ...(f.volumesFrom?.length ? { VolumesFrom: f.volumesFrom } : {}),
      ...(f.capAdd?.length ? { CapAdd: f.capAdd } : {}),
      ...(f.capDrop?.length ? { CapDrop: f.capDrop } : {}),
      ...(f.privileged ? { Privileged: true } : {}),
      ...(f.securityOpt?.length ? { SecurityOpt: f.securityOpt } : {}),
      ...(f.readOnly ? { ReadonlyRootfs: true } : {}),
      ...(f.memory !== undefined ? { Memory: ramInBytes(f.memory) } : {}),
      ...(nanoCpus !== undefined ? { NanoCpus: nanoCpus } : {}),
      ...(pids !== undefined ? { PidsLimit: pids } : {}),
      ...(network ? { NetworkMode: network } : {}),
    },
    ...(endpoint ? { NetworkingConfig: { EndpointsConfig: endpoint } } : {}),
  };
}
