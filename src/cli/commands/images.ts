/** `berth images`: the images of a node (GET /images/json through the API server), as `docker images` lists them. */
import { parseImageRef } from '../../api/imageref.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'images',
  usage: 'berth images [-a] [-q] [--filter dangling=true|false] [--node NAME] [REPOSITORY[:TAG]]',
  summary: 'List the images of a node: REPOSITORY, TAG, IMAGE ID, CREATED, SIZE.',
  flags: {
    ...nodeFlags,
    all: { type: 'boolean', short: 'a', description: 'show all images (intermediate ones included)' },
    quiet: { type: 'boolean', short: 'q', description: 'only image IDs' },
    filter: { type: 'string', short: 'f', multiple: true, valueName: 'KEY=VALUE', description: 'filter: dangling=true|false, reference=PATTERN' },
    'no-trunc': { type: 'boolean', description: 'full image IDs' },
  },
  positionals: { min: 0, max: 1 },
} satisfies CommandSpec<FlagSpecs>;

/** Docker's units: decimal, 3 significant digits ("1.98MB"). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : Number(x.toPrecision(3))}${units[i]}`;
}

/** Docker's go-units HumanDuration, as `docker images` shows CREATED ("3 minutes ago"). */
export function humanAgo(created: string, now = Date.now()): string {
  const secs = Math.max(0, (now - Date.parse(created)) / 1000);
  if (!Number.isFinite(secs)) return 'N/A';
  const h = secs / 3600;
  let d: string;
  if (secs < 1) d = 'Less than a second';
  else if (secs < 2) d = '1 second';
  else if (secs < 60) d = `${Math.floor(secs)} seconds`;
  else if (secs < 120) d = 'About a minute';
  else if (secs < 2700) d = `${Math.floor(secs / 60)} minutes`;
  else if (h < 1.5) d = 'About an hour';
  else if (h < 48) d = `${Math.round(h)} hours`;
  else if (h < 24 * 14) d = `${Math.floor(h / 24)} days`;
  else if (h < 24 * 60) d = `${Math.floor(h / 24 / 7)} weeks`;
  else if (h < 24 * 365 * 2) d = `${Math.floor(h / 24 / 30)} months`;
  else d = `${Math.floor(h / 24 / 365)} years`;
  return `${d} ago`;
}

export async function imagesCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  // the node filters (Docker's filters: dangling, reference); the positional is one more reference
  const filters: Record<string, string[]> = {};
  for (const f of v.filter ?? []) {
    const [key, value] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
    if (key === 'dangling' && (value === 'true' || value === 'false')) filters.dangling = [value];
    else if (key === 'reference' && value) (filters.reference ??= []).push(value);
    else throw new CliError(`--filter: "${f}" is not supported (dangling=true|false, reference=PATTERN)`);
  }
  if (parsed.positionals[0]) (filters.reference ??= []).push(parsed.positionals[0]);
  const node = await openNodeApi(v);
  let list;
  try {
    list = await node.listImages(filters, v.all === true);
  } catch (e) {
    cliError(e);
  }
  const rows: string[][] = [];
  const ids: string[] = [];
  for (const img of list) {
    const id = v['no-trunc'] ? img.Id : img.Id.slice(7, 19);
    const created = img.Created > 0 ? humanAgo(new Date(img.Created * 1000).toISOString()) : 'N/A';
    const names = img.RepoTags.length ? img.RepoTags : [undefined];
    for (const n of names) {
      // one row per name (with a reference filter the node answers only the names that match)
      const p = n ? parseImageRef(n) : undefined;
      rows.push([p ? `${p.domain ? `${p.domain}/` : ''}${p.path}` : '<none>', p?.tag ?? '<none>', id, created, humanSize(img.Size)]);
      if (!ids.includes(id)) ids.push(id);
    }
  }
  if (v.quiet) {
    for (const id of ids) console.log(id);
    return;
  }
  const header = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd());
}

