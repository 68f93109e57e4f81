/**
 * ContainerCreate (Docker's Config + HostConfig + NetworkingConfig) → a Berth Container object and
 * the Volume objects it needs (named volumes Docker would create on first use, anonymous ones).
 * Errors are Docker's messages (DockerError, a 400 on the API front, exit 125 in the CLI); the API
 * server then checks the object against the Container schema as for any client.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerSpec, VolumeMount } from '../../api/container.js';
import type { KObject } from '../api-client.js';
import type { CreateBody } from './create-body.js';
import { ANNOTATION_ANONYMOUS_FOR, ANNOTATION_AUTO_REMOVE, checkDockerName, dockerMetadata, DockerError, objectNameFor, type CreatedBy } from './names.js';

export const API_VERSION = 'berth.dev/v1alpha1';

export interface ContainerPlan {
  container: KObject;
  /** Volumes to create first (named ones that do not exist yet are Docker's to make; anonymous ones always). */
  volumes: Array<{ object: KObject; anonymous: boolean }>;
  /** Named volumes the container mounts (existing ones are left alone). */
  namedVolumes: string[];
  /** Docker names of the user networks it joins, in spec.networks' order (the engine resolves them to Networks). */
  networkRefs: string[];
}

export interface PlanOptions {
  /** Docker name (from --name or ?name=); a random one when absent. */
  dockerName: string;
  createdBy: CreatedBy;
  nodeName?: string;
  /** Create stopped (docker create), or running at once (berth run -d, which needs no attach first). */
  start?: boolean;
}

const toList = (v: string | string[] | null | undefined): string[] | undefined => (v === null || v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** "80/tcp" → {port, protocol}. */
export function parsePortKey(key: string): { port: number; protocol: 'TCP' | 'UDP' } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(key);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw new DockerError(`invalid port specification: "${key}"`);
  const proto = (m[2] ?? 'tcp').toLowerCase();
  if (proto === 'sctp') throw new DockerError(`invalid port specification: "${key}": sctp is not supported by Berth`);
  return { port, protocol: proto === 'udp' ? 'UDP' : 'TCP' };
}

/** A binding's HostPort: empty or "0" (what Testcontainers sends) is a port the node picks, as dockerd takes it. */
function parseHostPort(s: string | undefined, key: string): number | undefined {
  if (s === undefined || s === '' || s === '0') return undefined;
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    throw new DockerError(`invalid port specification: "${s}"${/^\d+-\d+$/.test(s) ? ' (a host port range for one container port is not supported by Berth: give one host port)' : ''} for ${key}`);
  }
  return Number(s);
}

/** Docker's restart policy names → restartPolicy. */
function restartPolicy(name: string | undefined): ContainerSpec['restartPolicy'] {
  switch (name ?? '') {
    case '':
    case 'no':
      return 'Never';
    case 'always':
    case 'unless-stopped':
      return 'Always';
    case 'on-failure':
      return 'OnFailure';
    default:
      throw new DockerError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure' or 'unless-stopped'`);
  }
}

const BUILTIN_NETWORKS = ['', 'default', 'bridge', 'host', 'none'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type Endpoint = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null; IPAddress?: string };

/**
 * Docker's NetworkMode and NetworkingConfig → spec.network and spec.networks. User networks are
 * named by their Docker name here (networkRefs); the engine resolves each to its Network object.
 */
function networking(body: CreateBody): { network: ContainerSpec['network']; networks: NonNullable<ContainerSpec['networks']>; networkRefs: string[] } {
  const mode = body.HostConfig?.NetworkMode ?? '';
  const endpoints = (body.NetworkingConfig?.EndpointsConfig ?? {}) as Record<string, Endpoint | null>;
  if (body.NetworkDisabled) return { network: 'none', networks: [], networkRefs: [] };
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    if (!ref) throw new DockerError('invalid network mode "container:": a container name or ID is required');
    return { network: `container:${objectNameFor(ref)}`, networks: [], networkRefs: [] };
  }
  if (mode === 'host' || mode === 'none') return { network: mode, networks: [], networkRefs: [] };
  // the user networks to join: NetworkMode first (it gets eth0 and the published ports), then the other endpoints
  const refs = [...new Set([mode, ...Object.keys(endpoints)].filter((n) => !BUILTIN_NETWORKS.includes(n)))];
  const networks = refs.map((ref) => {
    const ep = endpoints[ref] ?? {};
    const aliases = [...new Set((ep.Aliases ?? []).map((a) => a.toLowerCase()).filter((a) => DNS_LABEL.test(a) && a.length <= 63))];
    const ip = ep.IPAMConfig?.IPv4Address || undefined;
    return { name: objectNameFor(checkDockerName(ref, 'network')), ...(aliases.length ? { aliases } : {}), ...(ip ? { ipv4Address: ip } : {}) };
  });
  return { network: 'bridge', networks, networkRefs: refs };
}

function ports(body: CreateBody, network: ContainerSpec['network']): NonNullable<ContainerSpec['ports']> {
  const out = new Map<string, NonNullable<ContainerSpec['ports']>[number]>();
  const hc = body.HostConfig ?? {};
  for (const [key, bindings] of Object.entries(hc.PortBindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    for (const b of bindings ?? [{}]) {
      // an empty HostPort is a port the node picks (docker run -p 80)
      const hostPort = parseHostPort(b.HostPort, key) ?? 0;
      const hostIP = b.HostIp && b.HostIp !== '' && b.HostIp !== '0.0.0.0' ? b.HostIp : undefined;
      out.set(`${port}/${protocol}`, { containerPort: port, protocol, hostPort, ...(hostIP ? { hostIP } : {}) });
    }
  }
  if (hc.PublishAllPorts) {
    // -P: every exposed port not published yet, on a port the node picks
    for (const key of Object.keys(body.ExposedPorts ?? {})) {
      const { port, protocol } = parsePortKey(key);
      if (!out.has(`${port}/${protocol}`)) out.set(`${port}/${protocol}`, { containerPort: port, protocol, hostPort: 0 });
    }
  }
  if (out.size === 0) return [];
  // as docker: published ports are discarded with the host's network; with none or another container's they conflict
  if (network === 'host') return [];
  if (network !== 'bridge') throw new DockerError(`conflicting options: port publishing and the container type network mode (HostConfig.NetworkMode ${network})`);
  return [...out.values()];
}

/**
 * --security-opt: seccomp=unconfined (seccompProfile: Unconfined), seccomp=default or
 * no-new-privileges[=true] (what Berth does anyway). A profile file, AppArmor or SELinux labels are
 * refused by name rather than ignored.
 */
function seccompOf(opts: string[]): 'Unconfined' | undefined {
  let out: 'Unconfined' | undefined;
  for (const opt of opts) {
    const eq = opt.search(/[=:]/);
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'seccomp' && value === 'unconfined') out = 'Unconfined';
    else if (key === 'seccomp' && (value === 'default' || value === 'builtin')) out = undefined;
    else if (key === 'no-new-privileges' && (value === '' || value === 'true')) continue;
    else if (key === 'seccomp') throw new DockerError(`security-opt seccomp=${value}: Berth takes seccomp=unconfined or seccomp=default, not a profile file`);
    else if (key === 'no-new-privileges') throw new DockerError('security-opt no-new-privileges=false is not supported by Berth: no_new_privs is on unless the container is privileged');
    else throw new DockerError(`security-opt ${opt} is not supported by Berth (seccomp=unconfined, seccomp=default and no-new-privileges are)`);
  }
  return out;
}

function resources(hc: NonNullable<CreateBody['HostConfig']>): ContainerSpec['resources'] | undefined {
  const limits: Record<string, string> = {};
  if (hc.Memory) {
    if (hc.Memory < 6 * 1024 * 1024) throw new DockerError('Minimum memory limit allowed is 6MB');
    limits.memory = String(hc.Memory);
  }
  if (hc.NanoCpus) limits.cpu = `${Math.max(1, Math.round(hc.NanoCpus / 1e6))}m`;
  else if (hc.CpuQuota && hc.CpuQuota > 0) limits.cpu = `${Math.max(1, Math.round((hc.CpuQuota / (hc.CpuPeriod || 100_000)) * 1000))}m`;
  if (hc.PidsLimit && hc.PidsLimit > 0) limits.pids = String(hc.PidsLimit);
  return Object.keys(limits).length ? { limits } : undefined;
}

/** One Binds entry: SOURCE:TARGET[:OPTIONS]; SOURCE an absolute host path or a volume name. */
export function parseBind(bind: string): { source: string; target: string; readOnly: boolean } {
  const parts = bind.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new DockerError(`invalid volume specification: '${bind}'`);
  const [source, target, opts = ''] = parts as [string, string, string?];
  if (!target.startsWith('/')) throw new DockerError(`invalid volume specification: '${bind}': invalid mount config: mount path must be absolute`);
  const flags = opts ? opts.split(',') : [];
  for (const f of flags) if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave', 'consistent', 'cached', 'delegated'].includes(f)) throw new DockerError(`invalid mode: ${f}`);
  return { source, target, readOnly: flags.includes('ro') };
}

function volumeObject(name: string, dockerName: string, createdBy: CreatedBy, nodeName: string | undefined, annotations: Record<string, string> = {}): KObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Volume',
    metadata: dockerMetadata({ name, dockerName, createdBy, extraAnnotations: annotations }),
    spec: { driver: 'local', ...(nodeName ? { nodeName } : {}) },
  };
}

export function planContainer(body: CreateBody, o: PlanOptions): ContainerPlan {
  const dockerName = checkDockerName(o.dockerName, 'container');
  const name = objectNameFor(dockerName);
  if (!body.Image) throw new DockerError('No image was specified: Config.Image is required');
  const hc = body.HostConfig ?? {};
  const seccomp = seccompOf(hc.SecurityOpt ?? []);
  const autoRemove = hc.AutoRemove === true;
  const policy = restartPolicy(hc.RestartPolicy?.Name);
  if (autoRemove && policy !== 'Never') throw new DockerError('Conflicting options: --restart and --rm');

  const volumeMounts: VolumeMount[] = [];
  const volumes: ContainerPlan['volumes'] = [];
  const namedVolumes: string[] = [];
  const mountNamed = (source: string, target: string, readOnly: boolean) => {
    const volName = objectNameFor(checkDockerName(source, 'volume'));
    if (!namedVolumes.includes(volName)) {
      namedVolumes.push(volName);
      volumes.push({ object: volumeObject(volName, source, o.createdBy, o.nodeName), anonymous: false });
    }
    volumeMounts.push({ name: volName, mountPath: target, ...(readOnly ? { readOnly } : {}) });
  };
  const mountAnonymous = (target: string) => {
    const volName = `anon-${randomBytes(6).toString('hex')}`;
    volumes.push({ object: volumeObject(volName, volName, o.createdBy, o.nodeName, { [ANNOTATION_ANONYMOUS_FOR]: name }), anonymous: true });
    volumeMounts.push({ name: volName, mountPath: target });
  };
  for (const bind of hc.Binds ?? []) {
    const b = parseBind(bind);
    if (b.source.startsWith('/')) volumeMounts.push({ hostPath: b.source, mountPath: b.target, ...(b.readOnly ? { readOnly: true } : {}) });
    else mountNamed(b.source, b.target, b.readOnly);
  }
  for (const [i, m] of (hc.Mounts ?? []).entries()) {
    const type = m.Type ?? 'volume';
    if (!m.Target?.startsWith('/')) throw new DockerError(`invalid mount config for type "${type}": mount path must be absolute (HostConfig.Mounts[${i}].Target)`);
    if (type === 'bind') {
      if (!m.Source?.startsWith('/')) throw new DockerError(`invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`);
      volumeMounts.push({ hostPath: m.Source, mountPath: m.Target, ...(m.ReadOnly ? { readOnly: true } : {}) });
    } else if (type === 'volume') {
      if (m.Source) mountNamed(m.Source, m.Target, m.ReadOnly === true);
      else mountAnonymous(m.Target);
    } else {
      throw new DockerError(`mount type "${type}" is not supported by Berth (HostConfig.Mounts[${i}]); use bind or volume`);
    }
  }
  for (const target of Object.keys(body.Volumes ?? {})) {
    if (!target.startsWith('/')) throw new DockerError(`invalid volume specification: '${target}': mount path must be absolute`);
    if (!volumeMounts.some((m) => m.mountPath === target)) mountAnonymous(target);
  }
  const seen = new Set<string>();
  for (const m of volumeMounts) {
    if (seen.has(m.mountPath)) throw new DockerError(`Duplicate mount point: ${m.mountPath}`);
    seen.add(m.mountPath);
  }

  const net = networking(body);
  const portList = ports(body, net.network);
  const env = (body.Env ?? []).map((e) => {
    const eq = e.indexOf('=');
    return eq < 0 ? { name: e, value: '' } : { name: e.slice(0, eq), value: e.slice(eq + 1) };
  });
  for (const e of env) if (!e.name) throw new DockerError('invalid environment variable: =');
  const entrypoint = toList(body.Entrypoint);
  const cmd = toList(body.Cmd);
  const hostname = body.Hostname || undefined;
  if (hostname !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(hostname)) {
    throw new DockerError(`invalid hostname format: ${hostname} (Berth takes a lowercase RFC 1123 hostname)`);
  }
  if (body.WorkingDir && !body.WorkingDir.startsWith('/')) throw new DockerError(`the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`);
  const spec: Record<string, unknown> = {
    image: body.Image,
    ...(entrypoint && entrypoint.length && !(entrypoint.length === 1 && entrypoint[0] === '') ? { command: entrypoint } : {}),
    ...(cmd && cmd.length ? { args: cmd } : {}),
    ...(env.length ? { env } : {}),
    ...(body.WorkingDir ? { workingDir: body.WorkingDir } : {}),
    ...(body.User ? { user: body.User } : {}),
    ...(hostname ? { hostname } : {}),
    ...(body.Tty ? { tty: true } : {}),
    ...(body.OpenStdin ? { stdin: true, ...(body.StdinOnce ? { stdinOnce: true } : {}) } : {}),
    ...(portList.length ? { ports: portList } : {}),
    ...(volumeMounts.length ? { volumeMounts } : {}),
    ...(hc.VolumesFrom?.length ? { volumesFrom: hc.VolumesFrom.map((v) => { const [n, mode] = v.split(':'); return `${objectNameFor(n ?? v)}${mode ? `:${mode}` : ''}`; }) } : {}),
    ...(resources(hc) ? { resources: resources(hc) } : {}),
    ...(hc.ReadonlyRootfs ? { readOnlyRootFilesystem: true } : {}),
    ...(hc.CapAdd?.length ? { capAdd: hc.CapAdd } : {}),
    ...(hc.CapDrop?.length ? { capDrop: hc.CapDrop } : {}),
    // admission refuses both below the namespace's privileged level, naming the field
    ...(hc.Privileged ? { privileged: true } : {}),
    ...(seccomp ? { seccompProfile: seccomp } : {}),
    restartPolicy: policy,
    state: o.start ? 'Running' : 'Stopped',
    ...(body.StopSignal ? { stopSignal: body.StopSignal } : {}),
    ...(body.StopTimeout !== null && body.StopTimeout !== undefined && body.StopTimeout >= 0 ? { stopGracePeriodSeconds: body.StopTimeout } : {}),
    network: net.network,
    ...(net.networks.length ? { networks: net.networks } : {}),
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
  };
  const container: KObject = {
    apiVersion: API_VERSION,
    kind: 'Container',
    metadata: dockerMetadata({
      name,
      dockerName,
      labels: body.Labels ?? {},
      createdBy: o.createdBy,
      ...(autoRemove ? { extraAnnotations: { [ANNOTATION_AUTO_REMOVE]: 'true' } } : {}),
    }),
    spec,
  };
  return { container, volumes, namedVolumes, networkRefs: net.networkRefs };
}
