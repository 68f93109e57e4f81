/**
 * docker's container verbs over the API: start [-a] [-i], stop [-t], restart [-t], kill [-s],
 * pause, unpause, rm [-f] [-v], wait, rename, attach, port. Each takes containers by name, Docker
 * ID or ID prefix; as docker, every argument is tried, each success prints it, failures print
 * "Error response from daemon: ..." and the command ends with 1.
 */
import { dockerIdOf, DockerError } from '../../client/docker/names.js';

import type { KObject } from '../../client/api-client.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { ExitError } from '../errors.js';
import { formatPorts, type PublishedPort } from './port.js';
import { connectionFlags, dockerContext, dockerMessage, dockerVerb, type DockerContext } from '../docker/context.js';
import { joinTerminal } from '../docker/terminal.js';
import { attachStream, sendSignal } from './run.js';

type Verb = (ctx: DockerContext, obj: KObject, arg: string) => Promise<string | void>;

/** Runs `verb` for every argument as docker does; ends with 1 when one failed. */
async function eachContainer(ctx: DockerContext, args: string[], verb: Verb): Promise<void> {
  let failed = false;
  for (const arg of args) {
    try {
      const obj = await ctx.engine.findContainer(arg);
      const out = await verb(ctx, obj, arg);
      process.stdout.write(`${out ?? arg}\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`${dockerMessage(e)}\n`);
    }
  }
  if (failed) throw new ExitError(1);
}

function simple<F extends FlagSpecs>(name: string, usage: string, summary: string, flags: F, verb: (v: Record<string, unknown>) => Verb, min = 1) {
  const spec = { name, usage, summary, flags: { ...connectionFlags, ...flags }, positionals: { min } } satisfies CommandSpec<FlagSpecs>;
  return (argv: string[]): Promise<void> =>
    dockerVerb(1, async () => {
      const parsed = parseCommand(spec, argv);
      if (!parsed) return;
      const ctx = await dockerContext(parsed.values as never);
      await eachContainer(ctx, parsed.positionals, verb(parsed.values as Record<string, unknown>));
    });
}

const seconds = (v: unknown, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(String(v))) throw new DockerError(`invalid argument "${String(v)}" for "${flag}" flag: strconv.ParseInt: parsing "${String(v)}": invalid syntax`);
  return Number(v);
};

export const stopCommand = simple('stop', 'berth stop [-t SECONDS] CONTAINER...', 'Stop running containers: the stop signal, then SIGKILL after the grace period (spec.state Stopped).', { time: { type: 'string', short: 't', valueName: 'SECONDS', description: 'seconds to wait before killing it' }, timeout: { type: 'string', valueName: 'SECONDS', description: 'same as -t' } }, (v) => async (ctx, obj) => {
  await ctx.engine.stop(obj, seconds(v.time ?? v.timeout, '--time'));
});

export const restartCommand = simple('restart', 'berth restart [-t SECONDS] CONTAINER...', 'Restart containers (stop, then start).', { time: { type: 'string', short: 't', valueName: 'SECONDS', description: 'seconds to wait before killing it' } }, (v) => async (ctx, obj) => {
  await ctx.engine.restart(obj, seconds(v.time, '--time'));
});

export const killCommand = simple('kill', 'berth kill [-s SIGNAL] CONTAINER...', 'Send a signal (default SIGKILL) to the main process of running containers.', { signal: { type: 'string', short: 's', valueName: 'SIGNAL', description: 'signal to send (default KILL)' } }, (v) => async (ctx, obj) => {
  const signal = String(v.signal ?? 'KILL').toUpperCase();
  if (!/^((SIG)?[A-Z][A-Z0-9+-]*|[0-9]{1,2})$/.test(signal)) throw new DockerError(`Invalid signal: ${String(v.signal)}`);
  if ((obj.status as { phase?: string } | undefined)?.phase !== 'Running' && (obj.status as { phase?: string } | undefined)?.phase !== 'Paused') {
    throw new DockerError(`cannot kill container: ${obj.metadata.name}: container ${dockerIdOf(obj)} is not running`, 409);
  }
  await sendSignal(ctx, obj, signal);
});

export const pauseCommand = simple('pause', 'berth pause CONTAINER...', 'Freeze every process of containers (spec.state Paused).', {}, () => async (ctx, obj) => {
  await ctx.engine.pause(obj);
});

export const unpauseCommand = simple('unpause', 'berth unpause CONTAINER...', 'Thaw paused containers (spec.state Running).', {}, () => async (ctx, obj) => {
  await ctx.engine.unpause(obj);
});

export const rmCommand = simple(
  'rm',
  'berth rm [-f] [-v] CONTAINER...',
  'Remove containers (the Container objects; the node removes what they ran). A running one needs -f.',
  { force: { type: 'boolean', short: 'f', description: 'kill and remove a running container' }, volumes: { type: 'boolean', short: 'v', description: 'remove its anonymous volumes too' } },
  (v) => async (ctx, obj) => {
    await ctx.engine.remove(obj, { force: v.force === true, volumes: v.volumes === true });
  },
);

export const waitCommand = simple('wait', 'berth wait CONTAINER...', 'Block until containers stop, then print their exit codes.', {}, () => async (ctx, obj) => {
  const r = await ctx.engine.wait(obj, 'not-running');
  return String(r.StatusCode);
});

export function renameCommand(argv: string[]): Promise<void> {
  const spec = { name: 'rename', usage: 'berth rename CONTAINER NEW_NAME', summary: "Rename a container (its Docker name: the object's name cannot change; kept in berth.dev/docker-name).", flags: connectionFlags, positionals: { min: 2, max: 2 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const ctx = await dockerContext(parsed.values);
    const [from, to] = parsed.positionals as [string, string];
    await ctx.engine.rename(await ctx.engine.findContainer(from), to);
  });
}

/** docker start [-a] [-i]: with -a, attached (before the start) and ending with the container's exit code. */
export function startCommand(argv: string[]): Promise<void> {
  const spec = {
    name: 'start',
    usage: 'berth start [-a] [-i] CONTAINER...',
    summary: 'Start stopped or created containers (spec.state Running); -a attaches and returns the exit code.',
    flags: { ...connectionFlags, attach: { type: 'boolean', short: 'a', description: "attach to the container's output" }, interactive: { type: 'boolean', short: 'i', description: "attach the container's stdin" } },
    positionals: { min: 1 },
  } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const v = parsed.values;
    const ctx = await dockerContext(v);
    if (!v.attach && !v.interactive) {
      await eachContainer(ctx, parsed.positionals, async (c, obj) => {
        await c.engine.start(obj);
      });
      return;
    }
    if (parsed.positionals.length > 1) throw new DockerError('you cannot start and attach multiple containers at once');
    const obj = await ctx.engine.findContainer(parsed.positionals[0]!);
    const spec2 = (obj.spec ?? {}) as { tty?: boolean; stdin?: boolean };
    const tty = spec2.tty === true;
    const stdin = v.interactive === true && spec2.stdin === true;
    const rc = await attachStream(ctx, obj, { stdin, tty });
    const stop = new AbortController();
    const waited = ctx.engine.wait(obj, 'next-exit', { signal: stop.signal });
    waited.catch(() => undefined);
    const joined = joinTerminal(rc, { stdin, tty, signal: (sig) => sendSignal(ctx, obj, sig) });
    try {
      try {
        await ctx.engine.start(obj);
      } catch (e) {
        rc.close();
        await joined.catch(() => undefined);
        throw e;
      }
      const { detached } = await joined;
      if (detached) return;
      const r = await waited;
      if (r.StatusCode !== 0) throw new ExitError(r.StatusCode);
    } finally {
      stop.abort();
    }
  });
}

/** docker attach: joins a running container's stdio; ends with its exit code when it exits. */
export function attachCommand(argv: string[]): Promise<void> {
  const spec = {
    name: 'attach',
    usage: 'berth attach [--no-stdin] CONTAINER',
    summary: "Attach this terminal to a running container's input and output (Ctrl-P Ctrl-Q detaches).",
    flags: { ...connectionFlags, stdin: { type: 'boolean', default: true, description: 'attach stdin (when the container keeps it open); --no-stdin does not' } },
    positionals: { min: 1, max: 1 },
  } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const ctx = await dockerContext(parsed.values);
    const obj = await ctx.engine.findContainer(parsed.positionals[0]!);
    const phase = (obj.status as { phase?: string } | undefined)?.phase;
    if (phase !== 'Running' && phase !== 'Paused') throw new DockerError('You cannot attach to a stopped container, start it first', 409);
    if (phase === 'Paused') throw new DockerError('You cannot attach to a paused container, unpause it first', 409);
    const s = (obj.spec ?? {}) as { tty?: boolean; stdin?: boolean };
    const tty = s.tty === true;
    const stdin = parsed.values.stdin !== false && s.stdin === true;
    const stop = new AbortController();
    const waited = ctx.engine.wait(obj, 'next-exit', { signal: stop.signal });
    waited.catch(() => undefined);
    try {
      const rc = await attachStream(ctx, obj, { stdin, tty });
      const { detached } = await joinTerminal(rc, { stdin, tty, signal: (sig) => sendSignal(ctx, obj, sig) });
      if (detached) return;
      const r = await waited;
      if (r.StatusCode !== 0) throw new ExitError(r.StatusCode);
    } finally {
      stop.abort();
    }
  });
}

/** docker port CONTAINER [PORT[/PROTO]]: the published ports, from spec.ports. */
export function portCommand(argv: string[]): Promise<void> {
  const spec = { name: 'port', usage: 'berth port CONTAINER [PRIVATE_PORT[/PROTO]]', summary: 'List the port mappings of a container, or the one of a port.', flags: connectionFlags, positionals: { min: 1, max: 2 } } satisfies CommandSpec<FlagSpecs>;
  return dockerVerb(1, async () => {
    const parsed = parseCommand(spec, argv);
    if (!parsed) return;
    const ctx = await dockerContext(parsed.values);
    const obj = await ctx.engine.findContainer(parsed.positionals[0]!);
    // the ports as they are on the node (status: hostPort 0 shows the port it got)
    const published = ((obj.status ?? {}) as { ports?: PublishedPort[] }).ports ?? [];
    const want = parsed.positionals[1];
    let lines: string[];
    try {
      lines = formatPorts(published, want);
    } catch (e) {
      if (want === undefined) throw e;
      throw new DockerError(`No public port '${want.includes('/') ? want : `${want}/tcp`}' published for ${parsed.positionals[0]}`, 404);
    }
    process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  });
}
