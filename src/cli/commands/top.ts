/** `berth top NAME`: the processes of a running container (docker top). */
import { containerSubresourcePath, readAll, requestSubresource } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';

const spec = {
  name: 'top',
  usage: 'berth top NAME [-n NS]',
  summary: 'Show the processes running in a container (docker top).',
  flags: { ...clientFlags, ...namespaceFlag },
  positionals: { min: 1, max: 1 },
  examples: ['berth top httpd'],
} satisfies CommandSpec<FlagSpecs>;

export async function topCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const { client, namespace } = connect(parsed.values);
  const res = await requestSubresource(client.kc, 'GET', containerSubresourcePath(namespace, parsed.positionals[0]!, 'top'));
  const { processes } = JSON.parse(await readAll(res)) as { processes: Record<string, unknown>[] };
  const cols = [...new Set(processes.flatMap((p) => Object.keys(p)))];
  const rows = processes.map((p) => cols.map((c) => String(p[c] ?? '')));
  const head = cols.map((c) => c.toUpperCase());
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2))).join('').trimEnd();
  process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
}
