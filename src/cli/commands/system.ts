/**
 * `berth system df [-v]`, `berth system prune [-a] [--volumes] [-f]`, `berth info`, `berth events`,
 * `berth image prune [-a]`, `berth save`, `berth load`: Docker's system and image housekeeping over
 * the API (objects) and the node image API (what only the node knows: images, build cache).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { nodeProxyPath } from '../../api/node-api.js';
import type { KObject } from '../../client/api-client.js';
import { parseFilterFlags } from '../../client/docker/filters.js';
import { DockerError } from '../../client/docker/names.js';
import { diskUsage, diskUsageRows, eventLine, eventMatches, EventTranslator, systemInfo, type DockerEvent, type NodeDf } from '../../client/docker/system.js';
import { compileTemplate } from '../../client/docker/template.js';
import { sizeText } from '../../client/docker/views.js';
import { ContainerType, NodeType, VolumeType } from '../../client/kinds.js';
import { rawRequest, readAll } from '../../client/raw-request.js';
import { BERTH_VERSION } from '../../util/version.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { connectionFlags, dockerContext, dockerVerb, nodeFlag, type DockerContext } from '../docker/context.js';
import { pruneVolumes } from './volume.js';

const table = (rows: string[][]): string => {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
};

async function nodeDf(ctx: DockerContext): Promise<NodeDf> {
  return (await ctx.node().systemDf()) as NodeDf;
}

async function df(ctx: DockerContext): Promise<Record<string, unknown>> {
  const [containers, volumes, node] = await Promise.all([ctx.engine.listContainers(), ctx.engine.volumes.listAll({ namespace: ctx.namespace }), nodeDf(ctx)]);
  return diskUsage(containers, volumes.items, node);
}

async function pruneImages(ctx: DockerContext, all: boolean): Promise<{ deleted: string[]; reclaimed: number }> {
  const node = ctx.node();
  const images = await node.listImages(all ? {} : { dangling: ['true'] });
  const used = new Set<string>();
  for (const c of (await ctx.client.resource(ContainerType).listAll()).items) {
    const s = (c.status ?? {}) as { imageID?: string };
    if (s.imageID) used.add(s.imageID);
  }
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const img of images) {
    if (used.has(img.Id)) continue;
    try {
      const r = await node.removeImage(img.Id, { force: true });
      for (const x of r) deleted.push(x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`);
      reclaimed += img.Size;
    } catch {
      // in use after all (a container on another namespace): kept, as docker keeps it
    }
  }
  return { deleted, reclaimed };
}

export function systemCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  return dockerVerb(1, async () => {
    if (sub === 'df') {
      const spec = { name: 'system df', usage: 'berth system df [-v] [--format TEMPLATE]', summary: 'Disk usage of images, containers, volumes and the build cache (docker system df).', flags: { ...connectionFlags, ...nodeFlag, verbose: { type: 'boolean', short: 'v', description: 'one row per object' }, format: { type: 'string', valueName: 'TEMPLATE', description: "'json' or a Go template" } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
      const p = parseCommand(spec, rest);
      if (!p) return;
      const ctx = await dockerContext(p.values, { needNode: true });
      const doc = await df(ctx);
      if (p.values.format === 'json' || p.values.format === '{{json .}}') {
        process.stdout.write(`${JSON.stringify(doc)}\n`);
        return;
      }
      if (!p.values.verbose) {
        process.stdout.write(table(diskUsageRows(doc, sizeText)));
        return;
      }
      const images = doc.Images as Array<{ Id: string; RepoTags?: string[]; Created: number; Size: number; Containers: number }>;
      const ctrs = doc.Containers as Array<{ Id: string; Image: string; Command: string; Created: number; State: string; Status: string; SizeRw: number; Names: string[] }>;
      const vols = doc.Volumes as Array<{ Name: string; UsageData: { RefCount: number; Size: number } }>;
      let out = 'Images space usage:\n\n' + table([['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE', 'CONTAINERS'], ...images.map((i) => {
        const [repo, tag] = (i.RepoTags?.[0] ?? '<none>:<none>').split(/:(?=[^:/]*$)/);
        return [repo ?? '<none>', tag ?? '<none>', i.Id.replace(/^sha256:/, '').slice(0, 12), sizeText(i.Size), String(i.Containers)];
      })]);
      out += '\nContainers space usage:\n\n' + table([['CONTAINER ID', 'IMAGE', 'COMMAND', 'SIZE', 'STATUS', 'NAMES'], ...ctrs.map((c) => [c.Id.slice(0, 12), c.Image, `"${c.Command.slice(0, 20)}"`, sizeText(c.SizeRw), c.Status, (c.Names[0] ?? '').replace(/^\//, '')])]);
      out += '\nLocal Volumes space usage:\n\n' + table([['VOLUME NAME', 'LINKS', 'SIZE'], ...vols.map((v) => [v.Name, String(v.UsageData.RefCount), sizeText(v.UsageData.Size)])]);
      out += '\nBuild cache usage: ' + sizeText(((doc.BuildCache as Array<{ Size?: number }>) ?? []).reduce((a, b) => a + (b.Size ?? 0), 0)) + '\n';
      process.stdout.write(out);
      return;
    }
    if (sub === 'prune') {
      const spec = { name: 'system prune', usage: 'berth system prune [-a] [--volumes] [-f]', summary: 'Remove stopped containers, unused images (dangling, or all with -a) and, with --volumes, unused anonymous volumes.', flags: { ...connectionFlags, ...nodeFlag, all: { type: 'boolean', short: 'a', description: 'every image no container uses' }, volumes: { type: 'boolean', description: 'prune anonymous volumes too' }, force: { type: 'boolean', short: 'f', description: 'do not ask' } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
      const p = parseCommand(spec, rest);
      if (!p) return;
      if (!p.values.force) throw new CliError('system prune removes stopped containers and unused images: pass -f to confirm');
      const ctx = await dockerContext(p.values, { needNode: true });
      const stopped = (await ctx.engine.listContainers()).filter((c) => !['Running', 'Paused'].includes(String((c.status as { phase?: string } | undefined)?.phase)) && !c.metadata.deletionTimestamp);
      let out = '';
      if (stopped.length) out += 'Deleted Containers:\n';
      for (const c of stopped) {
        await ctx.engine.remove(c, { force: true, volumes: false });
        out += `${c.metadata.name}\n`;
      }
      if (p.values.volumes) out += await pruneVolumes(ctx, false);
      const images = await pruneImages(ctx, p.values.all === true);
      if (images.deleted.length) out += `\nDeleted Images:\n${images.deleted.join('\n')}\n`;
      out += `\nTotal reclaimed space: ${sizeText(images.reclaimed)}\n`;
      process.stdout.write(out);
      return;
    }
    if (sub === 'info') return infoCommand(rest);
    if (sub === 'events') return eventsCommand(rest);
    throw new CliError(`berth system: unknown subcommand "${sub ?? ''}"; one of df, prune, info, events`);
  });
}

export function imageCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  return dockerVerb(1, async () => {
    if (sub !== 'prune') throw new CliError(`berth image: unknown subcommand "${sub ?? ''}"; prune (other image verbs: berth images, pull, push, tag, rmi, history, save, load)`);
    const spec = { name: 'image prune', usage: 'berth image prune [-a] [-f]', summary: 'Remove dangling images (every image no container uses with -a).', flags: { ...connectionFlags, ...nodeFlag, all: { type: 'boolean', short: 'a', description: 'every unused image, not only dangling ones' }, force: { type: 'boolean', short: 'f', description: 'do not ask' } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
    const p = parseCommand(spec, rest);
    if (!p) return;
    if (!p.values.force) throw new CliError('image prune removes images: pass -f to confirm');
    const ctx = await dockerContext(p.values, { needNode: true });
    const r = await pruneImages(ctx, p.values.all === true);
    process.stdout.write(`${r.deleted.length ? `Deleted Images:\n${r.deleted.join('\n')}\n\n` : ''}Total reclaimed space: ${sizeText(r.reclaimed)}\n`);
  });
}

export function saveCommand(argv: string[]): Promise<void> {
  const spec = { name: 'save', usage: 'berth save [-o FILE] IMAGE...', summary: 'Save images to a docker-archive tar (docker save), from the node image API.', flags: { ...connectionFlags, ...nodeFlag, output: { type: 'string', short: 'o', valueName: 'FILE', description: 'write to a file instead of stdout' } }, positionals: { min: 1 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const p = parseCommand(spec, argv);
    if (!p) return;
    if (!p.values.output && process.stdout.isTTY) throw new DockerError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const ctx = await dockerContext(p.values, { needNode: true });
    const qs = new URLSearchParams();
    for (const n of p.positionals) qs.append('names', n);
    const res = await rawRequest(ctx.conn, 'GET', `${nodeProxyPath(ctx.nodeName!, '/images/get')}?${qs.toString()}`);
    await pipeline(res, p.values.output ? createWriteStream(p.values.output) : process.stdout);
  });
}

export function loadCommand(argv: string[]): Promise<void> {
  const spec = { name: 'load', usage: 'berth load [-i FILE] [-q]', summary: 'Load images from a docker-archive or OCI archive tar (docker load).', flags: { ...connectionFlags, ...nodeFlag, input: { type: 'string', short: 'i', valueName: 'FILE', description: 'read from a file instead of stdin' }, quiet: { type: 'boolean', short: 'q', description: 'no progress' } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const p = parseCommand(spec, argv);
    if (!p) return;
    if (!p.values.input && process.stdin.isTTY) throw new DockerError('requested load from stdin, but stdin is empty');
    const ctx = await dockerContext(p.values, { needNode: true });
    const body: Readable = p.values.input ? createReadStream(p.values.input) : process.stdin;
    const text = await readAll(await rawRequest(ctx.conn, 'POST', nodeProxyPath(ctx.nodeName!, '/images/load'), { quiet: p.values.quiet ? 1 : undefined }, body));
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const m = JSON.parse(line) as { stream?: string; error?: string; status?: string };
        if (m.error) throw new DockerError(m.error);
        if (m.stream) process.stdout.write(m.stream);
        else if (m.status) process.stdout.write(`${m.status}\n`);
      } catch (e) {
        if (e instanceof DockerError) throw e;
        process.stdout.write(`${line}\n`);
      }
    }
  });
}

export function infoCommand(argv: string[]): Promise<void> {
  const spec = { name: 'info', usage: 'berth info [--format TEMPLATE]', summary: 'System-wide information: containers, images, the node, versions (docker info).', flags: { ...connectionFlags, ...nodeFlag, format: { type: 'string', short: 'f', valueName: 'TEMPLATE', description: "'json' or a Go template" } }, positionals: { min: 0, max: 0 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const p = parseCommand(spec, argv);
    if (!p) return;
    const ctx = await dockerContext(p.values, { needNode: true });
    const [containers, node, images] = await Promise.all([ctx.engine.listContainers(), ctx.client.resource(NodeType).get(undefined, ctx.nodeName!), ctx.node().listImages()]);
    const info = systemInfo(containers, images.length, { name: node.metadata.name, ...(node.status as object) }, { serverVersion: BERTH_VERSION, namespace: ctx.namespace });
    if (p.values.format) {
      process.stdout.write(p.values.format === 'json' ? `${JSON.stringify(info)}\n` : `${compileTemplate(p.values.format)(info)}\n`);
      return;
    }
    const i = info as Record<string, unknown>;
    process.stdout.write(
      [
        'Server:',
        ` Containers: ${String(i.Containers)}`,
        `  Running: ${String(i.ContainersRunning)}`,
        `  Paused: ${String(i.ContainersPaused)}`,
        `  Stopped: ${String(i.ContainersStopped)}`,
        ` Images: ${String(i.Images)}`,
        ` Server Version: berth ${String(i.ServerVersion)}`,
        ` Storage Driver: ${String(i.Driver)}`,
        ` Logging Driver: ${String(i.LoggingDriver)}`,
        ` Cgroup Driver: ${String(i.CgroupDriver)}`,
        ` Cgroup Version: ${String(i.CgroupVersion)}`,
        ` Default Runtime: runc`,
        ` Kernel Version: ${String(i.KernelVersion)}`,
        ` Operating System: ${String(i.OperatingSystem)}`,
        ` OSType: ${String(i.OSType)}`,
        ` Architecture: ${String(i.Architecture)}`,
        ` CPUs: ${String(i.NCPU)}`,
        ` Total Memory: ${sizeText(Number(i.MemTotal))}`,
        ` Name: ${String(i.Name)}`,
        ` Namespace: ${ctx.namespace}`,
        '',
      ].join('\n'),
    );
  });
}

/** "10m", "2h", "30s", RFC 3339 or unix seconds → ms since the epoch (docker's --since/--until). */
export function eventTime(v: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (rel) return now - Number(rel[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[rel[2] as 'ms' | 's' | 'm' | 'h'];
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new DockerError(`invalid value for "since/until": ${v}: want a duration (10m), RFC 3339 time or unix seconds`);
  return t;
}

export function eventsCommand(argv: string[]): Promise<void> {
  const spec = {
    name: 'events',
    usage: 'berth events [--since TIME] [--until TIME] [--filter KEY=VALUE]... [--format TEMPLATE]',
    summary: "Docker's events of containers and volumes (create, start, die, pause, unpause, rename, destroy), from a watch of the objects; --since replays what their times say.",
    flags: { ...connectionFlags, since: { type: 'string', valueName: 'TIME', description: 'also events since this time (10m, RFC 3339, unix seconds)' }, until: { type: 'string', valueName: 'TIME', description: 'stop at this time' }, filter: { type: 'string', short: 'f', multiple: true, valueName: 'KEY=VALUE', description: 'container=, event=, type=, label=, image=, volume=' }, format: { type: 'string', valueName: 'TEMPLATE', description: 'Go template, or json' } },
    positionals: { min: 0, max: 0 },
  } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const p = parseCommand(spec, argv);
    if (!p) return;
    const v = p.values;
    const filters = parseFilterFlags(v.filter);
    const since = v.since !== undefined ? eventTime(v.since) : undefined;
    const until = v.until !== undefined ? eventTime(v.until) : undefined;
    const render = v.format === 'json' || v.format === '{{json .}}' ? (e: DockerEvent) => JSON.stringify(e) : v.format ? compileTemplate(v.format) : eventLine;
    const ctx = await dockerContext(v);
    const print = (e: DockerEvent): void => {
      const ms = e.timeNano / 1e6;
      if (since !== undefined && ms < since) return;
      if (until !== undefined && ms > until) return;
      if (eventMatches(e, filters)) process.stdout.write(`${render(e)}\n`);
    };
    const tr = new EventTranslator();
    const containers = ctx.client.resource(ContainerType);
    const volumes = ctx.client.resource(VolumeType);
    const [cl, vl] = await Promise.all([containers.list({ namespace: ctx.namespace }), volumes.list({ namespace: ctx.namespace })]);
    const past = tr.past([...cl.items.map((c) => ({ ...c, kind: 'Container' })), ...vl.items.map((x) => ({ ...x, kind: 'Volume' }))] as KObject[]);
    if (since !== undefined) for (const e of past) print(e);
    if (until !== undefined && until <= Date.now()) return;
    await new Promise<void>((resolve, reject) => {
      const handles: { stop(): void }[] = [];
      const stopAll = () => {
        for (const h of handles) h.stop();
        resolve();
      };
      if (until !== undefined) setTimeout(stopAll, until - Date.now());
      process.once('SIGINT', stopAll);
      const watch = (rc: typeof containers, kind: string, rv: string | undefined) =>
        rc.watch({ namespace: ctx.namespace, ...(rv ? { resourceVersion: rv } : {}) }, (type, obj) => {
          if (type === 'BOOKMARK' || type === 'ERROR') return;
          for (const e of tr.change(type, { ...obj, kind })) print(e);
        }, (err) => {
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
        });
      Promise.all([watch(containers, 'Container', cl.metadata.resourceVersion), watch(volumes, 'Volume', vl.metadata.resourceVersion)]).then((hs) => handles.push(...hs), reject);
    });
  });
}

