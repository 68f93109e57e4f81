/** `berth port NAME [PORT[/PROTO]]`: a container's published ports as they are on its node (docker port). */
import type { ContainerObject } from '../../client/kinds.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError } from '../errors.js';

const spec = {
  name: 'port',
  usage: 'berth port NAME [PRIVATE_PORT[/PROTO]] [-n NS]',
  summary: 'List the published ports of a container, or the node address of one of them (docker port).',
  flags: { ...clientFlags, ...namespaceFlag },
  positionals: { min: 1, max: 2 },
  examples: ['berth port web', 'berth port web 80/tcp'],
} satisfies CommandSpec<FlagSpecs>;

type Published = NonNullable<NonNullable<ContainerObject['status']>['ports']>[number];

/** docker port's lines: "80/tcp -> 0.0.0.0:32768", or only "0.0.0.0:32768" when a port was asked for. */
export function formatPorts(ports: Published[], want?: string): string[] {
  let list = [...ports].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
  if (want !== undefined) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/i.exec(want);
    if (!m) throw new CliError(`${JSON.stringify(want)} is not a port: PORT or PORT/tcp|udp`);
    const proto = (m[2] ?? 'tcp').toUpperCase();
    list = list.filter((p) => p.containerPort === Number(m[1]) && p.protocol === proto);
    if (list.length === 0) throw new CliError(`no public port '${m[1]}/${proto.toLowerCase()}' published`);
    return list.map((p) => `${p.hostIP}:${p.hostPort}`);
  }
  return list.map((p) => `${p.containerPort}/${p.protocol.toLowerCase()} -> ${p.hostIP}:${p.hostPort}`);
}

export async function portCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const { client, namespace } = connect(parsed.values);
  const name = parsed.positionals[0]!;
  const obj = (await client.readIfExists(await client.resolve('containers'), namespace, name)) as ContainerObject | undefined;
  if (!obj) throw new CliError(`Error from server (NotFound): containers.berth.dev "${name}" not found`);
  const lines = formatPorts(obj.status?.ports ?? [], parsed.positionals[1]);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}
