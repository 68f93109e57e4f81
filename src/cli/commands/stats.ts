/** `berth stats NAME...`: CPU, memory and pids of running containers, once (docker stats --no-stream). */
import { containerSubresourcePath, readAll, requestSubresource } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { sizeText } from './ps.js';

const spec = {
  name: 'stats',
  usage: 'berth stats NAME... [-n NS]',
  summary: 'Show CPU time, memory use and limit, and process count of running containers (docker stats --no-stream).',
  flags: { ...clientFlags, ...namespaceFlag },
  positionals: { min: 1 },
  examples: ['berth stats hello httpd'],
} satisfies CommandSpec<FlagSpecs>;

interface Stats {
  id: string;
  cpuSeconds: number;
  memoryUsageBytes: number;
  memoryLimitBytes: number | null;
  pids: number;
}

export async function statsCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const { client, namespace } = connect(parsed.values);
  const rows: string[][] = [];
  for (const name of parsed.positionals) {
    const res = await requestSubresource(client.kc, 'GET', containerSubresourcePath(namespace, name, 'stats'));
    const s = JSON.parse(await readAll(res)) as Stats;
    const limit = s.memoryLimitBytes === null ? 'unlimited' : sizeText(s.memoryLimitBytes);
    const pct = s.memoryLimitBytes ? `${((100 * s.memoryUsageBytes) / s.memoryLimitBytes).toFixed(2)}%` : '--';
    rows.push([s.id.slice(0, 12), name, `${s.cpuSeconds.toFixed(2)}s`, `${sizeText(s.memoryUsageBytes)} / ${limit}`, pct, String(s.pids)]);
  }
  const head = ['CONTAINER ID', 'NAME', 'CPU TIME', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd();
  process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
}
