/**
 * `berth inspect [-f FORMAT] [--type T] NAME...`: Docker-shaped JSON of containers, images,
 * volumes and networks (tried in that order, as docker inspect does), or a Go template of each; `berth diff`
 * and `berth export` through the Container's changes and export subresources.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { KObject } from '../../client/api-client.js';
import { DockerError, dockerNameOf, notFound, objectNameFor } from '../../client/docker/names.js';
import { DockerNetworks, networkNames } from '../../client/docker/networks.js';
import { compileTemplate } from '../../client/docker/template.js';
import { containerInspect, volumeInspect } from '../../client/docker/views.js';
import { NodeApiClient } from '../../client/node-api.js';
import { chooseNode } from '../../client/node-choice.js';
import { rawRequest, readAll, RawRequestError } from '../../client/raw-request.js';
import { containerSubresourcePath } from '../../client/subresource.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { ExitError } from '../errors.js';
import { connectionFlags, dockerContext, dockerMessage, dockerVerb, nodeFlag, type DockerContext } from '../docker/context.js';
import { imageConfigs, volumeMountpoints } from '../docker/lookups.js';

const TYPES = ['container', 'image', 'volume', 'network'] as const;
type ObjType = (typeof TYPES)[number];

async function inspectOne(ctx: DockerContext, ref: string, type: ObjType | undefined, node: () => Promise<NodeApiClient>): Promise<unknown> {
  const tries: ObjType[] = type ? [type] : ['container', 'image', 'volume', 'network'];
  for (const t of tries) {
    if (t === 'container') {
      let c: KObject;
      try {
        c = await ctx.engine.findContainer(ref);
      } catch (e) {
        if (e instanceof DockerError && e.status === 404) continue;
        throw e;
      }
      const networks = networkNames((await ctx.engine.networks.listAll({ namespace: ctx.namespace })).items);
      return containerInspect(c, { image: await imageConfigs(ctx)(c), volumeMountpoints: await volumeMountpoints(ctx), networks });
    }
    if (t === 'image') {
      try {
        return await (await node()).inspectImage(ref);
      } catch (e) {
        if (e instanceof RawRequestError && e.code === 404) continue;
        throw e;
      }
    }
    if (t === 'volume') {
      const vols = (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items;
      const v = vols.find((x) => x.metadata.name === objectNameFor(ref) && dockerNameOf(x) === ref) ?? vols.find((x) => dockerNameOf(x) === ref);
      if (!v) continue;
      const users = (await ctx.engine.listContainers()).filter((c) => ((c.spec ?? {}) as { volumeMounts?: { name?: string }[] }).volumeMounts?.some((m) => m.name === v.metadata.name)).map((c) => c.metadata.name);
      return volumeInspect(v, users);
    }
    if (t === 'network') {
      const nets = new DockerNetworks(ctx.engine, 'cli');
      try {
        return await nets.view(await nets.find(ref));
      } catch (e) {
        if (e instanceof DockerError && e.status === 404) continue;
        throw e;
      }
    }
  }
  const what = type === 'network' ? 'network' : type ?? 'object';
  throw notFound(`No such ${what}: ${ref}`);
}

export function inspectCommand(argv: string[]): Promise<void> {
  const spec = {
    name: 'inspect',
    usage: 'berth inspect [-f FORMAT] [--type container|image|volume|network] NAME|ID...',
    summary: "Docker-shaped JSON of containers, images and volumes (docker inspect); -f renders a Go template such as '{{.State.Status}}' or '{{json .Config}}'.",
    flags: { ...connectionFlags, ...nodeFlag, format: { type: 'string', short: 'f', valueName: 'TEMPLATE', description: 'Go template for each object' }, type: { type: 'string', valueName: 'TYPE', description: 'only this kind of object' }, size: { type: 'boolean', short: 's', description: 'accepted for docker compatibility' } },
    positionals: { min: 1 },
    examples: ["berth inspect -f '{{.State.Status}}' web", 'berth inspect busybox'],
  } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const v = parsed.values;
    if (v.type !== undefined && !(TYPES as readonly string[]).includes(v.type)) throw new DockerError(`"${v.type}" is not a valid value for --type`);
    const render = v.format !== undefined ? compileTemplate(v.format) : undefined;
    const ctx = await dockerContext(v);
    let nodeApi: NodeApiClient | undefined;
    const node = async () => (nodeApi ??= new NodeApiClient(ctx.conn, v.node ?? (await chooseNode(ctx.conn))));
    const found: unknown[] = [];
    let failed = false;
    for (const ref of parsed.positionals) {
      try {
        found.push(await inspectOne(ctx, ref, v.type as ObjType | undefined, node));
      } catch (e) {
        failed = true;
        process.stderr.write(`${dockerMessage(e).replace(/^Error response from daemon: /, 'Error: ')}\n`);
      }
    }
    if (render) process.stdout.write(found.map((f) => `${render(f)}\n`).join(''));
    else process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
    if (failed) throw new ExitError(1);
  });
}

export function diffCommand(argv: string[]): Promise<void> {
  const spec = { name: 'diff', usage: 'berth diff CONTAINER', summary: "Changes to files in a container's filesystem: A added, C changed, D deleted (docker diff).", flags: connectionFlags, positionals: { min: 1, max: 1 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const ctx = await dockerContext(parsed.values);
    const c = await ctx.engine.findContainer(parsed.positionals[0]!);
    const changes = JSON.parse(await readAll(await rawRequest(ctx.conn, 'GET', containerSubresourcePath(ctx.namespace, c.metadata.name, 'changes')))) as { Path: string; Kind: number }[];
    process.stdout.write(changes.map((x) => `${['C', 'A', 'D'][x.Kind] ?? '?'} ${x.Path}\n`).join(''));
  });
}

export function exportCommand(argv: string[]): Promise<void> {
  const spec = {
    name: 'export',
    usage: 'berth export [-o FILE] CONTAINER',
    summary: "Export a container's filesystem as a tar archive (docker export).",
    flags: { ...connectionFlags, output: { type: 'string', short: 'o', valueName: 'FILE', description: 'write to a file instead of stdout' } },
    positionals: { min: 1, max: 1 },
  } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    if (!parsed.values.output && process.stdout.isTTY) throw new DockerError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const ctx = await dockerContext(parsed.values);
    const c = await ctx.engine.findContainer(parsed.positionals[0]!);
    const res = await rawRequest(ctx.conn, 'GET', containerSubresourcePath(ctx.namespace, c.metadata.name, 'export'));
    await pipeline(res, parsed.values.output ? createWriteStream(parsed.values.output) : process.stdout);
  });
}
