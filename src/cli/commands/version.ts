/** `berth version`: this client's version and the server's /version. */
import { VersionApi } from '@kubernetes/client-node';
import { clientFlags, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { clientVersion } from '../client-version.js';
import { connect } from '../connect.js';
import { ExitError, formatError } from '../errors.js';
import { parseObjectFormat, toJson, toPlainObject, toYaml } from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';

const spec = {
  name: 'version',
  usage: 'berth version [--client] [-o yaml|json]',
  summary: 'Print the client version and, unless --client, the server version.',
  flags: {
    ...clientFlags,
    client: { type: 'boolean', description: 'only the client version; do not contact the server' },
    output: { type: 'string', short: 'o', valueName: 'FORMAT', description: 'yaml or json' },
  },
  positionals: { min: 0, max: 0 },
} satisfies CommandSpec<FlagSpecs>;

export async function versionCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const output = parseObjectFormat(v.output, ['', 'yaml', 'json']);
  const client = { gitVersion: `v${clientVersion()}`, platform: `${process.platform}/${process.arch}`, nodeVersion: process.version };
  let server: Record<string, unknown> | undefined;
  let error: unknown;
  if (v.client !== true) {
    try {
      server = toPlainObject(await connect(v).client.kc.makeApiClient(VersionApi).getCode());
    } catch (err) {
      error = err;
    }
  }
  if (output === '') {
    printer.out(`Client Version: ${client.gitVersion}`);
    if (server) printer.out(`Server Version: ${String(server.gitVersion ?? 'unknown')}`);
  } else {
    const doc = { clientVersion: client, ...(server ? { serverVersion: server } : {}) };
    printer.out(output === 'json' ? toJson(doc) : toYaml(doc));
  }
  if (error !== undefined) {
    printer.err(formatError(error));
    throw new ExitError(1);
  }
}
