/** `berth history`: an image's layers and the instructions that made them, newest first (GET /images/{name}/history on a node). */
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { renderColumns } from '../output/table.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const flags = {
  'no-trunc': { type: 'boolean', description: "don't truncate the output" },
  human: { type: 'boolean', short: 'H', default: true, description: 'print sizes and dates in human-readable form' },
  quiet: { type: 'boolean', short: 'q', description: 'print only image IDs' },
  ...nodeFlags,
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'history',
  usage: 'berth history [--no-trunc] [-H=false] [-q] [--node NAME] IMAGE',
  summary: 'Show the history of an image: one row per instruction, with the size of the layer it made.',
  flags,
  positionals: { min: 1, max: 1 },
  examples: ['berth history app:1', 'berth history --no-trunc app:1'],
};

/** Docker's units.HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Docker's units.HumanDuration + " ago". */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '<missing>';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second ago';
  if (s === 1) return '1 second ago';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return `${h} hours ago`;
  const d = Math.round(h / 24);
  if (d < 7 * 2) return `${d} days ago`;
  if (d < 30 * 3) return `${Math.floor(d / 7)} weeks ago`;
  if (d < 365 * 2) return `${Math.floor(d / 30)} months ago`;
  return `${Math.floor(d / 365)} years ago`;
}

const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

export async function historyCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const node = await openNodeApi(v);
  let items;
  try {
    items = await node.history(parsed.positionals[0] as string);
  } catch (e) {
    cliError(e);
  }
  // Docker's Created is in seconds, 0 when unknown
  const rows = items.map((r) => ({ id: r.Id, created: r.Created > 0 ? new Date(r.Created * 1000).toISOString().replace('.000Z', 'Z') : undefined, createdBy: r.CreatedBy, size: r.Size, comment: r.Comment }));
  // parseArgs (allowNegative) reads --no-trunc as trunc=false
  const noTrunc = v['no-trunc'] === true || (v as Record<string, unknown>).trunc === false;
  const human = v.human !== false;
  const id = (x: string): string => (x === '<missing>' ? x : noTrunc ? x : x.slice(7, 19));
  if (v.quiet) {
    for (const r of rows) process.stdout.write(`${id(r.id)}\n`);
    return;
  }
  const grid = rows.map((r) => [
    id(r.id),
    human ? humanAgo(r.created) : (r.created ?? ''),
    noTrunc ? r.createdBy : truncate(r.createdBy.replace(/\s+/g, ' '), 45),
    human ? humanSize(r.size) : String(r.size),
    r.comment,
  ]);
  process.stdout.write(`${renderColumns(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], grid).join('\n')}\n`);
}
