/**
 * `berth ps [-a] [-s] [-q] [-n N] [-l] [--filter K=V]... [--format T]`: docker ps, as a table over the
 * Container objects the API holds. IDs are Docker IDs (from the object's uid, as the Docker API front
 * shows them); --filter and --format take docker's keys and Go templates over ContainerSummary.
 */
import { dockerIdOf } from '../../client/docker/names.js';
import { filterContainers, parseFilterFlags } from '../../client/docker/filters.js';
import { formatList } from '../../client/docker/template.js';
import { containerSummary } from '../../client/docker/views.js';
import type { KObject } from '../../client/api-client.js';
import { dockerMessage } from '../docker/context.js';
import { ExitError } from '../errors.js';
import { humanDuration } from '../output/age.js';
import { clientFlags, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError } from '../errors.js';

const spec = {
  name: 'ps',
  usage: 'berth ps [-a] [-s] [-q] [-n N | -l] [--filter KEY=VALUE]... [--format TEMPLATE] [--namespace NS | -A]',
  summary: 'List containers as docker ps does: running ones, or all with -a.',
  flags: {
    ...clientFlags,
    namespace: { type: 'string', valueName: 'NS', description: 'namespace (default: the context namespace, else "default")' },
    all: { type: 'boolean', short: 'a', description: 'show every container, not only running and paused ones' },
    last: { type: 'string', short: 'n', valueName: 'N', description: 'show the N last created containers (every state)' },
    latest: { type: 'boolean', short: 'l', description: 'show the last created container (every state)' },
    filter: { type: 'string', short: 'f', multiple: true, valueName: 'KEY=VALUE', description: 'id, name, label, status, exited, ancestor, volume, network, before, since' },
    format: { type: 'string', valueName: 'TEMPLATE', description: "Go template over docker's ContainerSummary (.ID .Names .Image .Status ...), or 'table ...', or json" },
    'no-trunc': { type: 'boolean', description: 'do not truncate IDs' },
    size: { type: 'boolean', short: 's', description: 'show the writable layer size and the virtual size' },
    quiet: { type: 'boolean', short: 'q', description: 'print only container IDs' },
    'all-namespaces': { type: 'boolean', short: 'A', description: 'list containers of every namespace' },
  },
  positionals: { min: 0, max: 0 },
  examples: ['berth ps', 'berth ps -a -s', "berth ps -a --filter status=exited --format '{{.Names}} {{.Status}}'"],
} satisfies CommandSpec<FlagSpecs>;

interface Ctr {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  spec: { image: string; command?: string[]; args?: string[]; ports?: { containerPort: number; hostPort?: number; protocol?: string; hostIP?: string }[] };
  status?: { phase?: string; containerID?: string; startedAt?: string; finishedAt?: string; exitCode?: number; reason?: string; sizeRw?: number; sizeRootFs?: number; restartCount?: number; ports?: { containerPort: number; hostPort: number; protocol: string; hostIP: string }[] };
}

/** The Docker ID (from the uid), else the runtime's container ID. */
const idOf = (c: Ctr): string => ((c.metadata as { uid?: string }).uid ? dockerIdOf(c as unknown as KObject) : (c.status?.containerID ?? ''));

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
    return [idOf(c).slice(0, 12) || '<none>', c.spec.image, cmd ? quoted : '""', ago(c.metadata.creationTimestamp, now), statusText(c, now), ports, name, ...(o.size ? [size] : [])];
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
  const last = v.latest ? 1 : v.last !== undefined ? Number(v.last) : undefined;
  if (last !== undefined && !(Number.isInteger(last) && last >= 0)) throw new CliError(`invalid argument "${v.last}" for "-n, --last" flag`);
  let items = list.items
    .filter((c) => v.all || last !== undefined || (v.filter?.length ?? 0) > 0 || c.status?.phase === 'Running' || c.status?.phase === 'Paused')
    .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  try {
    if (v.filter?.length) {
      items = filterContainers(items as unknown as KObject[], parseFilterFlags(v.filter), list.items as unknown as KObject[]) as unknown as Ctr[];
      if (!v.all && !(v.filter ?? []).some((f) => f.startsWith('status=') || f.startsWith('exited='))) items = items.filter((c) => c.status?.phase === 'Running' || c.status?.phase === 'Paused');
    }
  } catch (e) {
    process.stderr.write(`${dockerMessage(e)}\n`);
    throw new ExitError(1);
  }
  if (last !== undefined && last > 0) items = items.slice(0, last);
  if (v.quiet) {
    process.stdout.write(items.map((c) => `${v['no-trunc'] ? idOf(c) : idOf(c).slice(0, 12) || c.metadata.name}\n`).join(''));
    return;
  }
  if (v.format !== undefined) {
    const rows = items.map((c) => {
      const s = containerSummary(c as unknown as KObject, { size: v.size === true }) as Record<string, unknown> & { Id: string; Names: string[]; Ports: unknown; Labels: Record<string, string> };
      return {
        ...s,
        ID: v['no-trunc'] ? s.Id : s.Id.slice(0, 12),
        Names: s.Names.map((n) => n.replace(/^\//, '')).join(','),
        Command: `"${String(s.Command)}"`,
        CreatedAt: new Date(Number(s.Created) * 1000).toISOString(),
        RunningFor: ago(c.metadata.creationTimestamp, Date.now()),
        Ports: (c.spec.ports ?? []).map((p) => (p.hostPort ? `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}` : `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`)).join(', '),
        Labels: Object.entries(s.Labels).map(([k, val]) => `${k}=${val}`).join(','),
        Namespace: c.metadata.namespace ?? namespace,
        Size: `${sizeText(c.status?.sizeRw)} (virtual ${sizeText(c.status?.sizeRootFs)})`,
      };
    });
    if (v.format === 'json') process.stdout.write(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    else process.stdout.write(formatList(v.format, rows, { ID: 'CONTAINER ID', Names: 'NAMES', RunningFor: 'CREATED' }));
    return;
  }
  process.stdout.write(psTable(items, { size: v.size, namespaces: v['all-namespaces'] }));
}
