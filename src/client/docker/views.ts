/**
 * Berth objects as Docker shows them: `docker inspect` of containers and volumes, the rows of
 * `docker ps` (ContainerSummary), `docker volume ls`, Status texts ("Up 5 minutes"), and the
 * container part of `docker system df`. Image views come from the node image API, which already
 * answers Docker's shapes.
 */
import type { KObject } from '../api-client.js';
import { ANNOTATION_AUTO_REMOVE, dockerIdOf, dockerLabelsOf, dockerNameOf } from './names.js';

type Spec = {
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  tty?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  ports?: { containerPort: number; hostPort?: number; protocol?: string; hostIP?: string }[];
  volumeMounts?: { name?: string; hostPath?: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  volumesFrom?: string[];
  resources?: { limits?: { cpu?: string | number; memory?: string | number; pids?: string | number } };
  readOnlyRootFilesystem?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  restartPolicy?: string;
  state?: string;
  stopSignal?: string;
  stopGracePeriodSeconds?: number;
  network?: string;
  networks?: { name: string; aliases?: string[]; ipv4Address?: string }[];
  nodeName?: string;
};
type NetworkStatus = { name: string; ipAddress?: string; prefixLength?: number; gateway?: string; macAddress?: string; interface?: string };
type PortStatus = { containerPort: number; protocol: string; hostIP: string; hostPort: number };
type Status = {
  phase?: string;
  containerID?: string;
  pid?: number;
  ip?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
  message?: string;
  restartCount?: number;
  imageID?: string;
  sizeRw?: number;
  sizeRootFs?: number;
  networks?: NetworkStatus[];
  ports?: PortStatus[];
};

/** What the image says, for the parts of a container a spec leaves to it (ENTRYPOINT, CMD, ENV...). */
export interface ImageConfigView {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
  Volumes?: Record<string, unknown> | null;
  StopSignal?: string;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const specOf = (c: KObject): Spec => (c.spec ?? { image: '' }) as unknown as Spec;
const statusOf = (c: KObject): Status => (c.status ?? {}) as Status;

/** Docker's State.Status: created, running, paused, restarting, removing, exited or dead. */
export function dockerState(c: KObject): 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead' {
  const s = statusOf(c);
  if (c.metadata.deletionTimestamp) return 'removing';
  switch (s.phase) {
    case 'Running':
      return 'running';
    case 'Paused':
      return 'paused';
    case 'Exited':
      if (s.reason === 'CrashLoopBackOff') return 'restarting';
      return s.finishedAt ? 'exited' : 'created';
    case 'Unknown':
      return 'dead';
    default:
      return 'created';
  }
}

/** Go-style duration words as docker prints them ("About a minute", "5 minutes", "2 hours"). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

/** docker ps's STATUS column. */
export function statusText(c: KObject, now = Date.now()): string {
  const s = statusOf(c);
  const since = (t?: string) => humanDuration(now - Date.parse(t ?? new Date(now).toISOString()));
  switch (dockerState(c)) {
    case 'running':
      return `Up ${since(s.startedAt)}`;
    case 'paused':
      return `Up ${since(s.startedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode ?? 0}) ${since(s.finishedAt)} ago`;
    case 'exited':
      return `Exited (${s.exitCode ?? 0}) ${since(s.finishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return s.reason && s.reason !== 'Stopped' ? `Created (${s.reason})` : 'Created';
  }
}

function envList(spec: Spec, image?: ImageConfigView): string[] {
  const out = new Map<string, string>();
  for (const e of image?.Env ?? []) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const e of spec.env ?? []) out.set(e.name, e.value ?? '');
  if (spec.tty && !out.has('TERM')) out.set('TERM', 'xterm');
  return [...out.entries()].map(([k, v]) => `${k}=${v}`);
}

/** The process Docker would run: ENTRYPOINT + CMD, each replaced by the spec's command and args. */
export function processArgs(spec: Spec, image?: ImageConfigView): { entrypoint: string[] | null; cmd: string[] | null; all: string[] } {
  const entrypoint = spec.command ?? image?.Entrypoint ?? null;
  const cmd = spec.args ?? (spec.command ? null : (image?.Cmd ?? null));
  return { entrypoint, cmd, all: [...(entrypoint ?? []), ...(cmd ?? [])] };
}

function portMap(spec: Spec): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of spec.ports ?? []) {
    const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
    out[key] = p.hostPort ? [{ HostIp: p.hostIP ?? '0.0.0.0', HostPort: String(p.hostPort) }] : null;
  }
  return out;
}

export function portsSummary(spec: Spec): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  return (spec.ports ?? []).map((p) => ({
    ...(p.hostPort ? { IP: p.hostIP ?? '0.0.0.0', PublicPort: p.hostPort } : {}),
    PrivatePort: p.containerPort,
    Type: (p.protocol ?? 'TCP').toLowerCase(),
  }));
}

/** docker ps's PORTS column. */
export function portsText(spec: Spec): string {
  return (spec.ports ?? []).map((p) => (p.hostPort ? `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}` : `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`)).join(', ');
}

function mounts(spec: Spec, volumeMountpoints: Record<string, string>): unknown[] {
  return (spec.volumeMounts ?? []).map((m) =>
    m.hostPath
      ? { Type: 'bind', Source: m.hostPath, Destination: m.mountPath, Mode: m.readOnly ? 'ro' : '', RW: !m.readOnly, Propagation: 'rprivate' }
      : { Type: 'volume', Name: m.name, Source: volumeMountpoints[m.name ?? ''] ?? '', Destination: m.mountPath, Driver: 'local', Mode: m.readOnly ? 'ro' : 'z', RW: !m.readOnly, Propagation: '' },
  );
}

const quantityNumber = (q: string | number | undefined): number => {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(q);
  if (!m) return 0;
  const mult: Record<string, number> = { '': 1, m: 0.001, k: 1e3, Ki: 1024, M: 1e6, Mi: 1 << 20, G: 1e9, Gi: 1 << 30, T: 1e12, Ti: 2 ** 40 };
  return Number(m[1]) * (mult[m[2] ?? ''] ?? 1);
};

const restartName = (p: string | undefined): string => (p === 'Always' ? 'always' : p === 'OnFailure' ? 'on-failure' : 'no');

export interface InspectExtras {
  image?: ImageConfigView;
  /** Volume name → its mountpoint on the node. */
  volumeMountpoints?: Record<string, string>;
  /** Network object name → [Docker name, Docker ID] (user networks; the default one is "bridge"). */
  networks?: Record<string, [string, string]>;
}

/** Ports as published on the node (status, the picked ports included), else as asked for; null when not published. */
function publishedPorts(spec: Spec, s: Status): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out = portMap(spec);
  for (const k of Object.keys(out)) if (out[k] && out[k]![0]!.HostPort === '0') out[k] = null;
  for (const p of s.ports ?? []) {
    const key = `${p.containerPort}/${p.protocol.toLowerCase()}`;
    const fresh = out[key] === null || out[key] === undefined || out[key]!.some((b) => b.HostPort === '0');
    out[key] = [...(fresh ? [] : out[key]!.filter((b) => b.HostPort !== String(p.hostPort))), { HostIp: p.hostIP, HostPort: String(p.hostPort) }];
  }
  return out;
}

/** docker inspect's NetworkSettings, from what the node reports (addresses per network, the published ports). */
export function networkSettings(c: KObject, x: InspectExtras = {}): Record<string, unknown> {
  const spec = specOf(c);
  const s = statusOf(c);
  const mode = spec.network ?? 'bridge';
  const attached = s.networks ?? [];
  const endpoint = (n: NetworkStatus | undefined, name: string) => {
    const asked = spec.networks?.find((w) => w.name === name);
    return {
      IPAMConfig: asked?.ipv4Address ? { IPv4Address: asked.ipv4Address } : null,
      Links: null,
      // Docker adds the short ID as an alias on user networks (docker-compose looks for it before it reconnects)
      Aliases: asked ? [...(asked.aliases ?? []), dockerIdOf(c).slice(0, 12)] : null,
      NetworkID: name === 'bridge' ? '' : (x.networks?.[name]?.[1] ?? ''),
      EndpointID: '',
      Gateway: n?.gateway ?? '',
      IPAddress: n?.ipAddress ?? '',
      IPPrefixLen: n?.prefixLength ?? 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: n?.macAddress ?? '',
      DNSNames: name === 'bridge' ? null : [dockerNameOf(c), ...(asked?.aliases ?? [])],
    };
  };
  const networks: Record<string, unknown> = {};
  if (mode === 'bridge') {
    const names = spec.networks?.length ? spec.networks.map((n) => n.name) : ['bridge'];
    for (const name of names) networks[name === 'bridge' ? 'bridge' : (x.networks?.[name]?.[0] ?? name)] = endpoint(attached.find((a) => a.name === name), name);
  } else {
    networks[mode] = endpoint(undefined, mode);
  }
  const first = attached[0];
  return {
    Bridge: '',
    SandboxID: '',
    SandboxKey: '',
    HairpinMode: false,
    Ports: mode === 'bridge' ? publishedPorts(spec, s) : {},
    IPAddress: s.ip ?? first?.ipAddress ?? '',
    IPPrefixLen: first?.prefixLength ?? 0,
    Gateway: first?.gateway ?? '',
    MacAddress: first?.macAddress ?? '',
    Networks: networks,
  };
}

/** HostConfig.NetworkMode as docker shows it: the first user network by its Docker name, else the mode. */
function dockerNetworkMode(spec: Spec, x: InspectExtras): string {
  const first = spec.networks?.[0]?.name;
  if ((spec.network ?? 'bridge') === 'bridge' && first) return x.networks?.[first]?.[0] ?? first;
  return spec.network ?? 'bridge';
}

/** docker inspect of a container (ContainerJSON). */
export function containerInspect(c: KObject, x: InspectExtras = {}): Record<string, unknown> {
  const spec = specOf(c);
  const s = statusOf(c);
  const state = dockerState(c);
  const { entrypoint, cmd, all } = processArgs(spec, x.image);
  const name = dockerNameOf(c);
  const limits = spec.resources?.limits ?? {};
  const cpu = quantityNumber(limits.cpu);
  return {
    Id: dockerIdOf(c),
    Created: c.metadata.creationTimestamp ?? ZERO_TIME,
    Path: all[0] ?? '',
    Args: all.slice(1),
    State: {
      Status: state,
      Running: state === 'running' || state === 'paused',
      Paused: state === 'paused',
      Restarting: state === 'restarting',
      OOMKilled: s.reason === 'OOMKilled',
      Dead: state === 'dead',
      Pid: state === 'running' || state === 'paused' ? (s.pid ?? 0) : 0,
      ExitCode: s.exitCode ?? 0,
      Error: s.phase === 'Failed' ? (s.message ?? s.reason ?? '') : '',
      StartedAt: s.startedAt ?? ZERO_TIME,
      FinishedAt: s.finishedAt ?? ZERO_TIME,
    },
    Image: s.imageID ?? '',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: `/${name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: (spec.volumeMounts ?? []).map((m) => `${m.hostPath ?? m.name}:${m.mountPath}${m.readOnly ? ':ro' : ''}`),
      NetworkMode: dockerNetworkMode(spec, x),
      // conmon's log is read back through the API as docker logs reads json-file; clients (docker-compose) only
      // read logs of containers whose driver they know to keep them
      LogConfig: { Type: 'json-file', Config: {} },
      PortBindings: portMap(spec),
      RestartPolicy: { Name: restartName(spec.restartPolicy), MaximumRetryCount: 0 },
      AutoRemove: c.metadata.annotations?.[ANNOTATION_AUTO_REMOVE] === 'true',
      VolumesFrom: spec.volumesFrom ?? null,
      CapAdd: spec.capAdd ?? null,
      CapDrop: spec.capDrop ?? null,
      Privileged: false,
      ReadonlyRootfs: spec.readOnlyRootFilesystem === true,
      Memory: Math.round(quantityNumber(limits.memory)),
      NanoCpus: Math.round(cpu * 1e9),
      PidsLimit: limits.pids !== undefined ? Math.round(quantityNumber(limits.pids)) : null,
    },
    GraphDriver: { Name: 'overlay2', Data: null },
    Mounts: mounts(spec, x.volumeMountpoints ?? {}),
    Config: {
      Hostname: spec.hostname ?? c.metadata.name.slice(0, 63),
      Domainname: '',
      User: spec.user ?? x.image?.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(spec.ports?.length ? { ExposedPorts: Object.fromEntries(spec.ports.map((p) => [`${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`, {}])) } : {}),
      Tty: spec.tty === true,
      OpenStdin: spec.stdin === true,
      StdinOnce: spec.stdinOnce === true,
      Env: envList(spec, x.image),
      Cmd: cmd,
      Image: spec.image,
      Volumes: x.image?.Volumes ?? null,
      WorkingDir: spec.workingDir ?? x.image?.WorkingDir ?? '',
      Entrypoint: entrypoint,
      OnBuild: null,
      Labels: dockerLabelsOf(c),
      ...(spec.stopSignal ? { StopSignal: spec.stopSignal } : {}),
      StopTimeout: spec.stopGracePeriodSeconds ?? 10,
    },
    NetworkSettings: networkSettings(c, x),
    // Berth's own view: where the object lives
    Berth: { Namespace: c.metadata.namespace ?? 'default', Name: c.metadata.name, Node: spec.nodeName ?? '', Phase: s.phase ?? '', Reason: s.reason ?? '' },
  };
}

/** One row of docker ps (ContainerSummary). */
export function containerSummary(c: KObject, o: { image?: ImageConfigView; size?: boolean; now?: number; networks?: InspectExtras['networks'] } = {}): Record<string, unknown> {
  const spec = specOf(c);
  const s = statusOf(c);
  const { all } = processArgs(spec, o.image);
  return {
    Id: dockerIdOf(c),
    Names: [`/${dockerNameOf(c)}`],
    Image: spec.image,
    ImageID: s.imageID ?? '',
    Command: all.join(' '),
    Created: Math.floor(Date.parse(c.metadata.creationTimestamp ?? new Date().toISOString()) / 1000),
    Ports: portsSummary(spec),
    Labels: dockerLabelsOf(c),
    State: dockerState(c),
    Status: statusText(c, o.now),
    HostConfig: { NetworkMode: dockerNetworkMode(spec, o.networks ? { networks: o.networks } : {}) },
    NetworkSettings: { Networks: networkSettings(c, o.networks ? { networks: o.networks } : {}).Networks },
    Mounts: mounts(spec, {}),
    ...(o.size ? { SizeRw: s.sizeRw ?? 0, SizeRootFs: s.sizeRootFs ?? 0 } : {}),
  };
}

/** docker volume inspect. */
export function volumeInspect(v: KObject, usedBy: string[] = []): Record<string, unknown> {
  const st = (v.status ?? {}) as { mountpoint?: string; createdAt?: string; size?: number; usedBy?: string[] };
  const spec = (v.spec ?? {}) as { driver?: string; driverOpts?: Record<string, string> };
  return {
    CreatedAt: st.createdAt ?? v.metadata.creationTimestamp ?? ZERO_TIME,
    Driver: spec.driver ?? 'local',
    Labels: dockerLabelsOf(v),
    Mountpoint: st.mountpoint ?? '',
    Name: dockerNameOf(v),
    Options: spec.driverOpts ?? null,
    Scope: 'local',
    UsageData: { Size: st.size ?? -1, RefCount: Math.max(usedBy.length, st.usedBy?.length ?? 0) },
  };
}

/** Human sizes as docker prints them (decimal units): 1.23MB. */
export function sizeText(bytes: number | undefined): string {
  if (bytes === undefined || bytes < 0) return 'N/A';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}
