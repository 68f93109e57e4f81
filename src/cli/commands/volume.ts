/** `berth volume create|ls|inspect|rm|prune` (docker volume) over Volume objects. */
import { createInterface } from 'node:readline/promises';
import type { KObject } from '../../client/api-client.js';
import { ANNOTATION_ANONYMOUS_FOR, checkDockerName, conflict, dockerMetadata, dockerNameOf, notFound, objectNameFor } from '../../client/docker/names.js';
import { keyValues, labelMatch, parseFilterFlags } from '../../client/docker/filters.js';
import { formatList } from '../../client/docker/template.js';
import { API_VERSION } from '../../client/docker/to-container.js';
import { sizeText, volumeInspect } from '../../client/docker/views.js';
import { watchUntil } from '../../client/docker/watch-until.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError, ExitError } from '../errors.js';
import { connectionFlags, dockerContext, dockerMessage, dockerVerb, nodeFlag, type DockerContext } from '../docker/context.js';

const usersOf = (containers: KObject[], volName: string): KObject[] =>
  containers.filter((c) => ((c.spec ?? {}) as { volumeMounts?: { name?: string }[] }).volumeMounts?.some((m) => m.name === volName));

async function findVolume(ctx: DockerContext, ref: string): Promise<KObject> {
  const byName = await ctx.engine.volumes.getIfExists(ctx.namespace, objectNameFor(ref));
  if (byName && dockerNameOf(byName) === ref) return byName;
  const v = (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items.find((x) => dockerNameOf(x) === ref || x.metadata.name === ref);
  if (!v) throw notFound(`get ${ref}: no such volume`);
  return v;
}

/** Deletes a Volume unless a Container mounts it (docker refuses in-use volumes); waits until it is gone. */
export async function removeVolume(ctx: DockerContext, v: KObject, containers: KObject[]): Promise<void> {
  const users = usersOf(containers, v.metadata.name);
  if (users.length) throw conflict(`remove ${dockerNameOf(v)}: volume is in use - [${users.map((u) => u.metadata.name).join(', ')}]`);
  await ctx.engine.volumes.delete(ctx.namespace, v.metadata.name).catch(() => undefined);
  await watchUntil(ctx.engine.volumes, ctx.namespace, v.metadata.name, (o) => (!o || o.metadata.uid !== v.metadata.uid ? true : undefined), { timeoutMs: 60_000 }).catch(() => undefined);
}

export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const SUBCOMMANDS = 'create, ls, inspect, rm, prune';

export function volumeCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  return dockerVerb(1, async () => {
    switch (sub) {
      case 'create': {
        const spec = {
          name: 'volume create',
          usage: 'berth volume create [-d local] [-o KEY=VALUE]... [-l KEY=VALUE]... [NAME]',
          summary: 'Create a volume (a Volume object, label berth.dev/created-by: cli).',
          flags: { ...connectionFlags, ...nodeFlag, driver: { type: 'string', short: 'd', valueName: 'DRIVER', description: 'volume driver (only local)' }, opt: { type: 'string', short: 'o', multiple: true, valueName: 'KEY=VALUE', description: 'driver option' }, label: { type: 'string', short: 'l', multiple: true, valueName: 'KEY=VALUE', description: 'label' } },
          positionals: { min: 0, max: 1 },
        } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const v = p.values;
        if (v.driver && v.driver !== 'local') throw new CliError(`Error response from daemon: create ${p.positionals[0] ?? ''}: error looking up volume plugin ${v.driver}: plugin "${v.driver}" not found`);
        const dockerName = p.positionals[0] ? checkDockerName(p.positionals[0], 'volume') : `anon-${Date.now().toString(16)}${Math.random().toString(16).slice(2, 8)}`;
        const ctx = await dockerContext(v);
        const name = objectNameFor(dockerName);
        const existing = await ctx.engine.volumes.getIfExists(ctx.namespace, name);
        if (existing) {
          process.stdout.write(`${dockerNameOf(existing)}\n`);
          return;
        }
        const labels = keyValues(v.label);
        const driverOpts = keyValues(v.opt);
        await ctx.engine.volumes.create(ctx.namespace, {
          apiVersion: API_VERSION,
          kind: 'Volume',
          metadata: dockerMetadata({ name, dockerName, labels, createdBy: 'cli' }),
          spec: { driver: 'local', ...(Object.keys(driverOpts).length ? { driverOpts } : {}), ...(v.node ? { nodeName: v.node } : {}) },
        });
        process.stdout.write(`${dockerName}\n`);
        return;
      }
      case 'ls':
      case 'list': {
        const spec = {
          name: 'volume ls',
          usage: 'berth volume ls [-q] [--filter KEY=VALUE] [--format TEMPLATE]',
          summary: 'List volumes.',
          flags: { ...connectionFlags, quiet: { type: 'boolean', short: 'q', description: 'only names' }, filter: { type: 'string', short: 'f', multiple: true, valueName: 'KEY=VALUE', description: 'dangling=true|false, name=, label=, driver=' }, format: { type: 'string', valueName: 'TEMPLATE', description: 'Go template' } },
          positionals: { min: 0, max: 0 },
        } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values);
        const f = parseFilterFlags(p.values.filter);
        const containers = await ctx.engine.listContainers();
        let vols = (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items.map((x) => volumeInspect(x, usersOf(containers, x.metadata.name).map((c) => c.metadata.name)) as { Name: string; Driver: string; Labels: Record<string, string>; UsageData: { RefCount: number } });
        for (const [k, values] of Object.entries(f)) {
          vols = vols.filter((x) =>
            values.some((val) =>
              k === 'dangling' ? (x.UsageData.RefCount === 0) === (val === 'true' || val === '1') : k === 'name' ? x.Name.includes(val) : k === 'driver' ? x.Driver === val : k === 'label' ? labelMatch(x.Labels, val) : true,
            ),
          );
        }
        if (p.values.quiet) process.stdout.write(vols.map((x) => `${x.Name}\n`).join(''));
        else process.stdout.write(formatList(p.values.format ?? 'table {{.Driver}}\t{{.Name}}', vols, { Driver: 'DRIVER', Name: 'VOLUME NAME' }));
        return;
      }
      case 'inspect': {
        const spec = { name: 'volume inspect', usage: 'berth volume inspect [-f TEMPLATE] VOLUME...', summary: 'Docker-shaped JSON of volumes.', flags: { ...connectionFlags, format: { type: 'string', short: 'f', valueName: 'TEMPLATE', description: 'Go template' } }, positionals: { min: 1 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values);
        const containers = await ctx.engine.listContainers();
        const out: unknown[] = [];
        for (const ref of p.positionals) {
          const v = await findVolume(ctx, ref);
          out.push(volumeInspect(v, usersOf(containers, v.metadata.name).map((c) => c.metadata.name)));
        }
        process.stdout.write(p.values.format ? formatList(p.values.format, out) : `${JSON.stringify(out, null, 4)}\n`);
        return;
      }
      case 'rm':
      case 'remove': {
        const spec = { name: 'volume rm', usage: 'berth volume rm [-f] VOLUME...', summary: 'Remove volumes (refused while a container uses them).', flags: { ...connectionFlags, force: { type: 'boolean', short: 'f', description: 'no error for a volume that does not exist' } }, positionals: { min: 1 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        const ctx = await dockerContext(p.values);
        const containers = await ctx.engine.listContainers();
        let failed = false;
        for (const ref of p.positionals) {
          try {
            await removeVolume(ctx, await findVolume(ctx, ref), containers);
            process.stdout.write(`${ref}\n`);
          } catch (e) {
            if (p.values.force && /no such volume/.test((e as Error).message)) continue;
            failed = true;
            process.stderr.write(`${dockerMessage(e)}\n`);
          }
        }
        if (failed) throw new ExitError(1);
        return;
      }
      case 'prune': {
        const spec = { name: 'volume prune', usage: 'berth volume prune [-a] [-f]', summary: 'Remove unused anonymous volumes (-a: every unused volume).', flags: { ...connectionFlags, all: { type: 'boolean', short: 'a', description: 'named volumes too' }, force: { type: 'boolean', short: 'f', description: 'do not ask' } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
        const p = parseCommand(spec, rest);
        if (!p) return;
        if (!p.values.force && !(await confirm('WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?'))) return;
        const ctx = await dockerContext(p.values);
        process.stdout.write(await pruneVolumes(ctx, p.values.all === true));
        return;
      }
      default:
        throw new CliError(`berth volume: unknown subcommand "${sub ?? ''}"; one of ${SUBCOMMANDS}`);
    }
  });
}

/** Removes volumes no container mounts (anonymous ones, or all with `all`); answers docker's report. */
export async function pruneVolumes(ctx: DockerContext, all: boolean): Promise<string> {
  const containers = await ctx.engine.listContainers();
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const v of (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items) {
    const anonymous = v.metadata.annotations?.[ANNOTATION_ANONYMOUS_FOR] !== undefined;
    if ((!all && !anonymous) || usersOf(containers, v.metadata.name).length) continue;
    await removeVolume(ctx, v, containers);
    deleted.push(dockerNameOf(v));
    reclaimed += (v.status as { size?: number } | undefined)?.size ?? 0;
  }
  return `${deleted.length ? `Deleted Volumes:\n${deleted.join('\n')}\n\n` : ''}Total reclaimed space: ${sizeText(reclaimed)}\n`;
}
