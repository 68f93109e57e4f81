/** `berth ps [-a] [-s] [-q]`: docker ps, as a table over the Container objects the API holds. */
import { humanDuration } from '../output/age.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';

const spec = {
  name: 'ps',
  usage: 'berth ps [-a] [-s] [-q] [-n NS | -A]',
  summary: 'List containers as docker ps does: running ones, or all with -a.',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    all: { type: 'boolean', short: 'a', description: 'show every container, not only running and paused ones' },
    size: { type: 'boolean', short: 's', description: 'show the writable layer size and the virtual size' },
    quiet: { type: 'boolean', short: 'q', description: 'print only container IDs' },
    'all-namespaces': { type: 'boolean', short: 'A', description: 'list containers of every namespace' },
  },
  positionals: { min: 0, max: 0 },
  examples: ['berth ps', 'berth ps -a -s'],
} satisfies CommandSpec<FlagSpecs>;

interface Ctr {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  spec: { image: string; command?: string[]; args?: string[]; ports?: { containerPort: number; hostPort?: number; protocol?: string; hostIP?: string }[] };
  status?: { phase?: string; containerID?: string; startedAt?: string; finishedAt?: string; exitCode?: number; reason?: string; sizeRw?: number; sizeRootFs?: number; restartCount?: number; ports?: { containerPort: number; hostPort: number; protocol: string; hostIP: string }[] };
}

const ago = (t: string | undefined, now: number): string => (t ? `${humanDuration(now - Date.parse(t))} ago` : '');

export function statusText(c: Ctr, now = Date.now()): string {
  const s = c.status ?? {};
  switch (s.phase) {
    case 'Running':
      return `Up ${humanDuration(now - Date.parse(s.startedAt ?? ''))}`;
    case 'Paused':
      return `Up ${humanDuration(now - Date.parse(s.startedAt ?? ''))} (Paused)`;
    case 'Exited':
      if (s.reason === 'CrashLoopBackOff') return `Restarting (${s.exitCode ?? '?'}) ${ago(s.finishedAt, now)}`;
      return s.finishedAt ? `Exited (${s.exitCode ?? '?'}) ${ago(s.finishedAt, now)}` : 'Created';
    case undefined:
      return 'Pending';
    default:
      return s.reason ? `${s.phase} (${s.reason})` : s.phase;
  }
}

export function sizeText(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[i]}`;
}

export function psTable(items: Ctr[], o: { size?: boolean; namespaces?: boolean }, now = Date.now()): string {
  const header = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(o.size ? ['SIZE'] : [])];
  const rows = items.map((c) => {
    const cmd = [...(c.spec.command ?? []), ...(c.spec.args ?? [])].join(' ');
    const quoted = `"${cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd}"`;
    // the ports as published on the node (hostPort 0 resolved), else as the spec asks
    const ports = (c.status?.ports ?? c.spec.ports ?? []).map((p) => (p.hostPort ? `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}` : `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`)).join(', ');
    const name = o.namespaces ? `${c.metadata.namespace}/${c.metadata.name}` : c.metadata.name;
    const size = `${sizeText(c.status?.sizeRw)} (virtual ${sizeText(c.status?.sizeRootFs)})`;
    return [(c.status?.containerID ?? '').slice(0, 12) || '<none>', c.spec.image, cmd ? quoted : '""', ago(c.metadata.creationTimestamp, now), statusText(c, now), ports, name, ...(o.size ? [size] : [])];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export async function psCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const { client, namespace } = connect(v);
  const path = v['all-namespaces'] ? '/apis/berth.dev/v1alpha1/containers' : `/apis/berth.dev/v1alpha1/namespaces/${encodeURIComponent(namespace)}/containers`;
  const list = await client.getJson<{ items: Ctr[] }>(path);
  const items = list.items
    .filter((c) => v.all || c.status?.phase === 'Running' || c.status?.phase === 'Paused')
    .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  if (v.quiet) {
    process.stdout.write(items.map((c) => `${(c.status?.containerID ?? '').slice(0, 12) || c.metadata.name}\n`).join(''));
    return;
  }
  process.stdout.write(psTable(items, { size: v.size, namespaces: v['all-namespaces'] }));
}
