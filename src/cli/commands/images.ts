/** `berth images`: the images on this node, as `docker images` lists them. */
import { parseReference } from '../../runtime/images/reference.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, nodeFlags, openNode } from './pull.js';

const spec = {
  name: 'images',
  usage: 'berth images [-a] [-q] [--filter dangling=true|false] [REPOSITORY[:TAG]]',
  summary: 'List images on this node: REPOSITORY, TAG, IMAGE ID, CREATED, SIZE.',
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

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.')}$`);
}

export async function imagesCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  let dangling: boolean | undefined;
  const refPatterns: RegExp[] = [];
  for (const f of v.filter ?? []) {
    const [key, value] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
    if (key === 'dangling' && (value === 'true' || value === 'false')) dangling = value === 'true';
    else if (key === 'reference' && value) refPatterns.push(globToRegExp(value.includes(':') ? value : `${value}:*`));
    else throw new CliError(`--filter: "${f}" is not supported (dangling=true|false, reference=PATTERN)`);
  }
  if (parsed.positionals[0]) {
    const p = parsed.positionals[0];
    refPatterns.push(globToRegExp(p.includes(':') ? p : `${p}:*`));
  }
  const { runtime } = await openNode(v['data-dir']);
  let list;
  try {
    list = await runtime.images.list(dangling === undefined ? {} : { dangling });
  } catch (e) {
    cliError(e);
  }
  const rows: string[][] = [];
  const ids: string[] = [];
  for (const img of list) {
    // every image this store holds was asked for (pulled, built, loaded); -a only matters for intermediates
    const id = v['no-trunc'] ? img.id : img.id.slice(7, 19);
    const created = img.created ? humanAgo(img.created) : 'N/A';
    const names = img.repoTags.length ? img.repoTags : [undefined];
    for (const n of names) {
      if (refPatterns.length && (!n || !refPatterns.some((r) => r.test(n)))) continue;
      const p = n ? parseReference(n) : undefined;
      rows.push([p?.repository ?? '<none>', p?.tag ?? '<none>', id, created, humanSize(img.size)]);
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
