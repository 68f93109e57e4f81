/**
 * `berth network create|ls|inspect|rm|connect|disconnect|prune` (docker network) over Network
 * objects, through the same mapping as the Docker API's /networks (src/client/docker/networks.ts):
 * `bridge` is the node's default network, `host` and `none` the modes, the rest Networks of the
 * namespace (label berth.dev/created-by: cli when made here).
 */
import { stringify } from 'yaml';
import { keyValues, parseFilterFlags } from '../../client/docker/filters.js';
import { dockerIdOf } from '../../client/docker/names.js';
import { DockerNetworks } from '../../client/docker/networks.js';
import { formatList } from '../../client/docker/template.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError, ExitError } from '../errors.js';
import { connectionFlags, dockerContext, dockerMessage, dockerVerb, nodeFlag } from '../docker/context.js';
import { confirm } from './volume.js';

const SUBCOMMANDS = 'create, ls, inspect, rm, connect, disconnect, prune';
type View = { Id: string; Name: string; Driver: string; Scope: string; Internal: boolean; Created: string; Labels: Record<string, string> };

export function networkCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  return dockerVerb(1, async () => {
    switch (sub) {
      case 'create': {
        const spec = {
          name: 'network create',
          usage: 'berth network create [-d bridge] [--subnet CIDR] [--gateway IP] [--ip-range CIDR] [--internal] [-o com.docker.network.bridge.name=NAME] [-l KEY=VALUE]... NAME',
          summary: 'Create a network (a Network object, label berth.dev/created-by: cli); prints its ID once a node has set it up.',
          flags: {
            ...connectionFlags,
            ...nodeFlag,
            driver: { type: 'string', short: 'd', valueName: 'DRIVER', description: 'network driver (only bridge)' },
            subnet: { type: 'string', valueName: 'CIDR', description: 'IPv4 subnet (default: a free /24 the node picks)' },
            gateway: { type: 'string', valueName: 'IP', description: 'gateway of the subnet (default: its first address)' },
            'ip-range': { type: 'string', valueName: 'CIDR', description: 'addresses for containers come from this block' },
            internal: { type: 'boolean', description: 'no way out of the node' },
            opt: { type: 'string', short: 'o', multiple: true, valueName: 'KEY=VALUE', description: 'driver option (com.docker.network.bridge.name)' },
            label: { type: 'string', short: 'l', multiple: true, valueName: 'KEY=VALUE', description: 'label; repeatable' },
          },
          positionals: { min: 1, max: 1 },
          examples: ['berth network create front', 'berth network create --subnet 10.89.7.0/24 back'],
        } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const v = p.values;
        if ((v.gateway || v['ip-range']) && !v.subnet) throw new CliError(`${v.gateway ? '--gateway' : '--ip-range'} needs --subnet`);
        const ctx = await dockerContext(v, { needNode: true });
        const created = await new DockerNetworks(ctx.engine, 'cli').create({
          Name: p.positionals[0],
          ...(v.driver ? { Driver: v.driver } : {}),
          ...(v.internal ? { Internal: true } : {}),
          Options: keyValues(v.opt),
          Labels: keyValues(v.label),
          IPAM: { Config: v.subnet ? [{ Subnet: v.subnet, ...(v.gateway ? { Gateway: v.gateway } : {}), ...(v['ip-range'] ? { IPRange: v['ip-range'] } : {}) }] : [] },
        });
        process.stdout.write(`${dockerIdOf(created)}\n`);
        return;
      }
      case 'ls':
      case 'list': {
        const spec = {
          name: 'network ls',
          usage: 'berth network ls [-q] [--no-trunc] [--filter KEY=VALUE] [--format TEMPLATE] [-o json|yaml]',
          summary: "List networks: the node's default (bridge), host, none and the Networks of the namespace.",
          flags: {
            ...connectionFlags,
            ...nodeFlag,
            quiet: { type: 'boolean', short: 'q', description: 'only IDs' },
            'no-trunc': { type: 'boolean', description: 'full IDs' },
            filter: { type: 'string', short: 'f', multiple: true, valueName: 'KEY=VALUE', description: 'name=, id=, driver=, label=, type=builtin|custom' },
            format: { type: 'string', valueName: 'TEMPLATE', description: 'Go template' },
            output: { type: 'string', short: 'o', valueName: 'json|yaml', description: 'the networks as docker network inspect documents' },
          },
          positionals: { min: 0, max: 0 },
        } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const v = p.values;
        if (v.output !== undefined && v.output !== 'json' && v.output !== 'yaml') throw new CliError(`--output: must be json or yaml, not ${JSON.stringify(v.output)}`);
        const filters = parseFilterFlags(v.filter);
        const ctx = await dockerContext(v, { needNode: true });
        const views = (await new DockerNetworks(ctx.engine, 'cli').views(filters)) as unknown as View[];
        if (v.output === 'json') process.stdout.write(`${JSON.stringify(views, null, 4)}\n`);
        else if (v.output === 'yaml') process.stdout.write(stringify(views));
        else if (v.quiet) process.stdout.write(views.map((x) => `${v['no-trunc'] ? x.Id : x.Id.slice(0, 12)}\n`).join(''));
        else {
          const rows = views.map((x) => ({ ...x, ID: v['no-trunc'] ? x.Id : x.Id.slice(0, 12), Internal: String(x.Internal), IPv6: 'false' }));
          process.stdout.write(formatList(v.format ?? 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', rows, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE' }));
        }
        return;
      }
      case 'inspect': {
        const spec = { name: 'network inspect', usage: 'berth network inspect [-f TEMPLATE] NETWORK...', summary: 'Docker-shaped JSON of networks, with the containers attached.', flags: { ...connectionFlags, ...nodeFlag, format: { type: 'string', short: 'f', valueName: 'TEMPLATE', description: 'Go template' } }, positionals: { min: 1 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values, { needNode: true });
        const nets = new DockerNetworks(ctx.engine, 'cli');
        const out: unknown[] = [];
        let failed = false;
        for (const ref of p.positionals) {
          try {
            out.push(await nets.view(await nets.find(ref)));
          } catch (e) {
            failed = true;
            process.stderr.write(`${dockerMessage(e)}\n`);
          }
        }
        if (out.length) process.stdout.write(p.values.format ? formatList(p.values.format, out) : `${JSON.stringify(out, null, 4)}\n`);
        if (failed) throw new ExitError(1);
        return;
      }
      case 'rm':
      case 'remove': {
        const spec = { name: 'network rm', usage: 'berth network rm [-f] NETWORK...', summary: 'Remove networks (refused while a container names them).', flags: { ...connectionFlags, force: { type: 'boolean', short: 'f', description: 'no error for a network that does not exist' } }, positionals: { min: 1 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values);
        const nets = new DockerNetworks(ctx.engine, 'cli');
        let failed = false;
        for (const ref of p.positionals) {
          try {
            await nets.remove(await nets.find(ref));
            process.stdout.write(`${ref}\n`);
          } catch (e) {
            if (p.values.force && /network .* not found/.test((e as Error).message)) continue;
            failed = true;
            process.stderr.write(`${dockerMessage(e)}\n`);
          }
        }
        if (failed) throw new ExitError(1);
        return;
      }
      case 'connect':
      case 'disconnect': {
        const connect = sub === 'connect';
        const spec = {
          name: `network ${sub}`,
          usage: connect ? 'berth network connect [--alias ALIAS]... [--ip IPV4] NETWORK CONTAINER' : 'berth network disconnect NETWORK CONTAINER',
          summary: connect ? 'Join a stopped container to a network (spec.networks).' : 'Take a stopped container off a network.',
          flags: { ...connectionFlags, ...(connect ? { alias: { type: 'string', multiple: true, valueName: 'ALIAS', description: 'another name on the network' }, ip: { type: 'string', valueName: 'IPV4', description: 'fixed address' } } : { force: { type: 'boolean', short: 'f', description: 'accepted for docker compatibility' } }) },
          positionals: { min: 2, max: 2 },
        } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values);
        const nets = new DockerNetworks(ctx.engine, 'cli');
        const net = await nets.find(p.positionals[0]!);
        const c = await ctx.engine.findContainer(p.positionals[1]!);
        const v = p.values as { alias?: string[]; ip?: string };
        if (connect) await nets.connect(net, c, { ...(v.alias ? { aliases: v.alias } : {}), ...(v.ip ? { ipv4Address: v.ip } : {}) });
        else await nets.disconnect(net, c);
        return;
      }
      case 'prune': {
        const spec = { name: 'network prune', usage: 'berth network prune [-f]', summary: "Remove the networks made by Docker's verbs that no container names.", flags: { ...connectionFlags, force: { type: 'boolean', short: 'f', description: 'do not ask' } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        if (!p.values.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return;
        const ctx = await dockerContext(p.values);
        const deleted = await new DockerNetworks(ctx.engine, 'cli').prune();
        process.stdout.write(deleted.length ? `Deleted Networks:\n${deleted.join('\n')}\n` : '');
        return;
      }
      case undefined:
      case '--help':
      case '-h':
        process.stdout.write(`Usage: berth network COMMAND\n\nManage networks (Network objects; bridge is the node's default network).\n\nCommands: ${SUBCOMMANDS}\n`);
        return;
      default:
        throw new CliError(`berth network: unknown subcommand "${sub}"; one of ${SUBCOMMANDS}`);
    }
  });
}
