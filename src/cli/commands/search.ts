/** `berth search`: repositories in a registry's catalog (/v2/_catalog) matching a term, asked through a node (GET /images/search). */
import { CredentialsFile } from '../../client/registry-credentials.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const spec = {
  name: 'search',
  usage: 'berth search [--limit N] [--node NAME] REGISTRY[/TERM] | TERM --registry REGISTRY',
  summary: "Search a registry's catalog for repositories whose name contains TERM.",
  flags: {
    ...nodeFlags,
    registry: { type: 'string', valueName: 'HOST[:PORT]', description: 'registry to search (else the part of the argument before the first /)' },
    limit: { type: 'string', valueName: 'N', default: '25', description: 'at most N results' },
    'no-trunc': { type: 'boolean', description: 'accepted for docker compatibility' },
  },
  positionals: { min: 0, max: 1 },
  examples: ['berth search 127.0.0.1:5000/busy', 'berth search app --registry 127.0.0.1:5000'],
} satisfies CommandSpec<FlagSpecs>;

export async function searchCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  let registry = v.registry;
  let term = parsed.positionals[0] ?? '';
  if (!registry) {
    const slash = term.indexOf('/');
    registry = slash < 0 ? term : term.slice(0, slash);
    term = slash < 0 ? '' : term.slice(slash + 1);
  }
  if (!registry) throw new CliError("a registry is required: berth search REGISTRY[/TERM] (Docker Hub's search API is not a registry catalog)");
  const limit = Number(v.limit ?? '25');
  if (!Number.isInteger(limit) || limit <= 0 || limit > 1000) throw new CliError(`--limit: "${v.limit}" is not an integer from 1 to 1000`);
  let results: Array<{ name: string }> = [];
  try {
    const registryAuth = await new CredentialsFile().registryAuth(registry);
    const node = await openNodeApi(v);
    results = await node.search(`${registry}/${term}`, limit, registryAuth);
  } catch (e) {
    if (e instanceof CliError) throw e;
    cliError(e);
  }
  console.log('NAME');
  for (const r of results) console.log(r.name);
}
