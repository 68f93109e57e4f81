/**
 * docker system df, docker info and docker events from Berth objects (and the node image API for
 * what only the node knows: image sizes, build cache): the documents both fronts answer.
 */
import type { KObject } from '../api-client.js';
import { dockerIdOf, dockerLabelsOf, dockerNameOf } from './names.js';
import { containerSummary, dockerState, volumeInspect } from './views.js';

export interface NodeDf {
  LayersSize?: number;
  Images?: Array<Record<string, unknown> & { Id: string; Size?: number; RepoTags?: string[] }>;
  BuildCache?: Array<Record<string, unknown>>;
}

const imageOf = (c: KObject) => ((c.status ?? {}) as { imageID?: string }).imageID;

/** Docker's DiskUsage: images from the node (with the count of Containers using each), containers and volumes from objects. */
export function diskUsage(containers: KObject[], volumes: KObject[], node: NodeDf): Record<string, unknown> {
  const uses = new Map<string, number>();
  for (const c of containers) {
    const id = imageOf(c);
    if (id) uses.set(id, (uses.get(id) ?? 0) + 1);
  }
  const usedBy = new Map<string, string[]>();
  for (const c of containers) {
    for (const m of ((c.spec ?? {}) as { volumeMounts?: { name?: string }[] }).volumeMounts ?? []) if (m.name) usedBy.set(m.name, [...(usedBy.get(m.name) ?? []), c.metadata.name]);
  }
  return {
    LayersSize: node.LayersSize ?? 0,
    Images: (node.Images ?? []).map((i) => ({ ...i, Containers: uses.get(i.Id) ?? 0 })),
    Containers: containers.map((c) => containerSummary(c, { size: true })),
    Volumes: volumes.map((v) => volumeInspect(v, usedBy.get(v.metadata.name) ?? [])),
    BuildCache: node.BuildCache ?? [],
  };
}

const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');

/** The rows of `docker system df`: TYPE TOTAL ACTIVE SIZE RECLAIMABLE. */
export function diskUsageRows(df: Record<string, unknown>, size: (n: number) => string): string[][] {
  const images = (df.Images as Array<{ Size?: number; Containers?: number }>) ?? [];
  const containers = (df.Containers as Array<{ SizeRw?: number; State?: string }>) ?? [];
  const volumes = (df.Volumes as Array<{ UsageData?: { Size?: number; RefCount?: number } }>) ?? [];
  const cache = (df.BuildCache as Array<{ Size?: number; InUse?: boolean; Shared?: boolean }>) ?? [];
  const imgSize = images.reduce((a, i) => a + (i.Size ?? 0), 0);
  const imgActive = images.filter((i) => (i.Containers ?? 0) > 0);
  const imgReclaim = imgSize - imgActive.reduce((a, i) => a + (i.Size ?? 0), 0);
  const ctrSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const ctrActive = containers.filter((c) => c.State === 'running' || c.State === 'paused');
  const ctrReclaim = containers.filter((c) => !(c.State === 'running' || c.State === 'paused')).reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const volSize = volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const volActive = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
  const volReclaim = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const cacheSize = cache.reduce((a, c) => a + (c.Size ?? 0), 0);
  const cacheReclaim = cache.filter((c) => !c.InUse).reduce((a, c) => a + (c.Size ?? 0), 0);
  return [
    ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
    ['Images', String(images.length), String(imgActive.length), size(imgSize), `${size(imgReclaim)}${pct(imgReclaim, imgSize)}`],
    ['Containers', String(containers.length), String(ctrActive.length), size(ctrSize), `${size(ctrReclaim)}${pct(ctrReclaim, ctrSize)}`],
    ['Local Volumes', String(volumes.length), String(volActive.length), size(volSize), `${size(volReclaim)}${pct(volReclaim, volSize)}`],
    ['Build Cache', String(cache.length), String(cache.filter((c) => c.InUse).length), size(cacheSize), size(cacheReclaim)],
  ];
}

export interface NodeInfoView {
  name: string;
  capacity?: { cpu?: string; memory?: string };
  nodeInfo?: { kernelVersion?: string; osImage?: string; operatingSystem?: string; architecture?: string; cgroupVersion?: string; runcVersion?: string; berthVersion?: string; machineID?: string };
}

/** docker info (SystemInfo) for one node's view. */
export function systemInfo(containers: KObject[], imageCount: number, node: NodeInfoView, o: { serverVersion: string; namespace: string }): Record<string, unknown> {
  const states = containers.map(dockerState);
  const ni = node.nodeInfo ?? {};
  return {
    ID: ni.machineID ?? node.name,
    Containers: containers.length,
    ContainersRunning: states.filter((s) => s === 'running').length,
    ContainersPaused: states.filter((s) => s === 'paused').length,
    ContainersStopped: states.filter((s) => s !== 'running' && s !== 'paused').length,
    Images: imageCount,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'overlayfs']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['k8s-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    PidsLimit: true,
    OomKillDisable: false,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'k8s-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: ni.cgroupVersion === 'v2' ? '2' : '1',
    NEventsListener: 0,
    KernelVersion: ni.kernelVersion ?? '',
    OperatingSystem: ni.osImage ?? 'linux',
    OSVersion: '',
    OSType: ni.operatingSystem ?? 'linux',
    Architecture: ni.architecture === 'amd64' ? 'x86_64' : (ni.architecture ?? ''),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: Number(node.capacity?.cpu ?? 0),
    MemTotal: Number(node.capacity?.memory ?? 0),
    DockerRootDir: '/var/lib/berth',
    Name: node.name,
    Labels: [`berth.namespace=${o.namespace}`, `berth.node=${node.name}`],
    ExperimentalBuild: false,
    ServerVersion: o.serverVersion,
    Runtimes: { runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: ni.runcVersion ?? '' },
    InitCommit: { ID: '' },
    SecurityOptions: ['name=seccomp,profile=builtin'],
    Warnings: [],
  };
}

export interface DockerEvent {
  Type: 'container' | 'volume' | 'image' | 'network';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

function event(type: DockerEvent['Type'], action: string, id: string, attrs: Record<string, string>, at: string | number | undefined): DockerEvent {
  const ms = typeof at === 'number' ? at : at ? Date.parse(at) : Date.now();
  return {
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: attrs },
    scope: 'local',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1e6,
    ...(type === 'container' ? { status: action, id, from: attrs.image ?? '' } : {}),
  };
}

const containerAttrs = (c: KObject): Record<string, string> => ({ ...dockerLabelsOf(c), image: String(((c.spec ?? {}) as { image?: string }).image ?? ''), name: dockerNameOf(c) });

type CStatus = { phase?: string; startedAt?: string; finishedAt?: string; exitCode?: number; restartCount?: number };

/**
 * Turns what a watch of Containers and Volumes shows into Docker's events: create, start, die
 * (exitCode), pause, unpause, rename, destroy for containers; create and destroy for volumes.
 * `past` replays what the objects' timestamps say happened (for --since).
 */
export class EventTranslator {
  private readonly last = new Map<string, KObject>();

  past(objs: KObject[]): DockerEvent[] {
    const out: DockerEvent[] = [];
    for (const o of objs) {
      this.last.set(o.metadata.uid ?? o.metadata.name, o);
      if (o.kind === 'Volume') {
        out.push(event('volume', 'create', dockerNameOf(o), { driver: 'local' }, o.metadata.creationTimestamp));
        continue;
      }
      const s = (o.status ?? {}) as CStatus;
      const id = dockerIdOf(o);
      out.push(event('container', 'create', id, containerAttrs(o), o.metadata.creationTimestamp));
      if (s.startedAt) out.push(event('container', 'start', id, containerAttrs(o), s.startedAt));
      if (s.finishedAt && s.phase === 'Exited') out.push(event('container', 'die', id, { ...containerAttrs(o), exitCode: String(s.exitCode ?? 0) }, s.finishedAt));
    }
    return out.sort((a, b) => a.timeNano - b.timeNano);
  }

  change(type: 'ADDED' | 'MODIFIED' | 'DELETED', o: KObject): DockerEvent[] {
    const key = o.metadata.uid ?? o.metadata.name;
    const before = this.last.get(key);
    if (type === 'DELETED') this.last.delete(key);
    else this.last.set(key, o);
    if (o.kind === 'Volume') {
      if (type === 'ADDED' && !before) return [event('volume', 'create', dockerNameOf(o), { driver: 'local' }, undefined)];
      if (type === 'DELETED') return [event('volume', 'destroy', dockerNameOf(o), { driver: 'local' }, undefined)];
      return [];
    }
    const id = dockerIdOf(o);
    const attrs = containerAttrs(o);
    if (type === 'DELETED') return [event('container', 'destroy', id, attrs, undefined)];
    const out: DockerEvent[] = [];
    if (!before) out.push(event('container', 'create', id, attrs, undefined));
    const a = (before?.status ?? {}) as CStatus;
    const b = (o.status ?? {}) as CStatus;
    if (before && dockerNameOf(before) !== dockerNameOf(o)) out.push(event('container', 'rename', id, { ...attrs, oldName: `/${dockerNameOf(before)}` }, undefined));
    if (b.startedAt && b.startedAt !== a.startedAt && b.phase === 'Running') out.push(event('container', 'start', id, attrs, b.startedAt));
    if (b.phase === 'Paused' && a.phase !== 'Paused') out.push(event('container', 'pause', id, attrs, undefined));
    if (a.phase === 'Paused' && b.phase === 'Running') out.push(event('container', 'unpause', id, attrs, undefined));
    if (b.phase === 'Exited' && b.finishedAt && b.finishedAt !== a.finishedAt) out.push(event('container', 'die', id, { ...attrs, exitCode: String(b.exitCode ?? 0) }, b.finishedAt));
    return out;
  }
}

/** Docker's events filters (container, event, type, label, volume, image). */
export function eventMatches(e: DockerEvent, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (!values.length) continue;
    const ok = values.some((v) => {
      switch (key) {
        case 'container':
          return e.Type === 'container' && (e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v);
        case 'event':
          return e.Action === v;
        case 'type':
          return e.Type === v;
        case 'volume':
          return e.Type === 'volume' && e.Actor.ID === v;
        case 'image':
          return e.Actor.Attributes.image === v;
        case 'label': {
          const eq = v.indexOf('=');
          return eq < 0 ? v in e.Actor.Attributes : e.Actor.Attributes[v.slice(0, eq)] === v.slice(eq + 1);
        }
        default:
          return true;
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** docker events' text line. */
export function eventLine(e: DockerEvent): string {
  const t = new Date(Math.floor(e.timeNano / 1e6)).toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}000000Z`);
  const attrs = Object.entries(e.Actor.Attributes)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${t} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}`;
}
