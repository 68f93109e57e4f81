/** `berth api-resources`: the resource types the server serves, from its discovery documents. */
import { clientFlags, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError } from '../errors.js';
import { apiVersionOfRef, qualifiedResource } from '../kinds.js';
import { parseObjectFormat } from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';
import { renderColumns } from '../output/table.js';

const spec = {
  name: 'api-resources',
  usage: 'berth api-resources [--api-group GROUP] [--namespaced=true|false] [-o name] [--no-headers]',
  summary: 'List the resource types the server serves.',
  flags: {
    ...clientFlags,
    'api-group': { type: 'string', valueName: 'GROUP', description: 'only this API group ("" for core)' },
    namespaced: { type: 'string', valueName: 'true|false', description: 'only namespaced (true) or cluster-scoped (false) resources' },
    output: { type: 'string', short: 'o', valueName: 'FORMAT', description: 'name: print only group-qualified resource names' },
    'no-headers': { type: 'boolean', description: 'leave out the header' },
  },
  positionals: { min: 0, max: 0 },
} satisfies CommandSpec<FlagSpecs>;

export async function apiResourcesCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const output = parseObjectFormat(v.output, ['', 'name']);
  if (v.namespaced !== undefined && v.namespaced !== 'true' && v.namespaced !== 'false') {
    throw new CliError(`invalid --namespaced value "${v.namespaced}": want true or false`);
  }
  const { client } = connect(v);
  const resources = (await client.discover()).filter(
    (r) => (v['api-group'] === undefined || r.group === v['api-group']) && (v.namespaced === undefined || String(r.namespaced) === v.namespaced),
  );
  // Discovery order of groups (core first), names sorted within a group, as kubectl prints them.
  const groupOrder = [...new Set(resources.map((r) => r.group))];
  const sorted = [...resources].sort((a, b) => groupOrder.indexOf(a.group) - groupOrder.indexOf(b.group) || a.plural.localeCompare(b.plural));
  if (output === 'name') {
    for (const r of sorted) printer.out(qualifiedResource(r));
    return;
  }
  const headers = ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'];
  const rows = sorted.map((r) => [r.plural, r.shortNames.join(','), apiVersionOfRef(r), String(r.namespaced), r.kind]);
  for (const line of renderColumns(v['no-headers'] ? undefined : headers, rows)) printer.out(line);
}
