/**
 * `berth run` and `berth create`: docker run and docker create over the API. The flags become a
 * ContainerCreate body, the body a Container (label berth.dev/created-by: cli) created stopped on a
 * node; run then attaches (before the start, so no output is lost), starts it, streams its output
 * and ends with its exit code, or with -d prints its ID. Exit codes are docker's: 125 when Berth
 * fails (bad flag, missing image, API error), 126 when the command cannot be invoked, 127 when it
 * is not found. A run that fails leaves no object behind.
 */
import { attachQueryString } from '../../api/exec-query.js';
import { parseCreateBody } from '../../client/docker/create-body.js';
import { startFailureCode } from '../../client/docker/engine.js';
import { dockerIdOf, DockerError } from '../../client/docker/names.js';
import { openRemoteCommand, type RemoteCommand } from '../../client/docker/remote-command.js';
import { createBodyFromFlags } from '../../client/docker/run-flags.js';
import type { KObject } from '../../client/api-client.js';
import { containerSubresourcePath } from '../../client/subresource.js';
import { rawRequest, readAll } from '../../client/raw-request.js';
import { parseCommand, type CommandSpec } from '../args.js';
import { ExitError } from '../errors.js';
import { dockerContext, dockerMessage, dockerVerb, type DockerContext } from '../docker/context.js';
import { ensureImage, type PullPolicy } from '../docker/image-pull.js';
import { runFlags, runFlagValues, splitAtImage } from '../docker/run-spec.js';
import { joinTerminal } from '../docker/terminal.js';

const runSpec = {
  name: 'run',
  usage: 'berth run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image (docker run): attached, its output is streamed and its exit code returned; -d runs it in the background.',
  flags: runFlags,
  positionals: { min: 0 },
  examples: ['berth run --rm busybox echo hi', 'berth run -d --name web -v site:/www busybox httpd -f -p 8080 -h /www', 'berth run -it --rm busybox sh'],
} satisfies CommandSpec<typeof runFlags>;

const createSpec = { ...runSpec, name: 'create', usage: 'berth create [OPTIONS] IMAGE [COMMAND] [ARG...]', summary: 'Create a new container without starting it (docker create); prints its ID.', examples: ['berth create --name web busybox httpd -f'] };

export async function sendSignal(ctx: DockerContext, obj: KObject, signal: string): Promise<void> {
  await readAll(await rawRequest(ctx.conn, 'POST', containerSubresourcePath(ctx.namespace, obj.metadata.name, 'kill'), { signal }));
}

/** Opens the attach stream of a container (registered on its node before this resolves). */
export function attachStream(ctx: DockerContext, obj: KObject, o: { stdin: boolean; tty: boolean }): Promise<RemoteCommand> {
  return openRemoteCommand(ctx.conn, containerSubresourcePath(ctx.namespace, obj.metadata.name, 'attach'), attachQueryString({ stdin: o.stdin, stdout: true, stderr: !o.tty, tty: o.tty }));
}

async function runOrCreate(argv: string[], mode: 'run' | 'create'): Promise<void> {
  const spec = mode === 'run' ? runSpec : createSpec;
  const split = splitAtImage(argv, spec.flags);
  const parsed = parseCommand(spec, [...split.ours, ...(split.image !== undefined ? [split.image] : [])]);
  if (!parsed) return;
  const v = parsed.values;
  if (!split.image) throw new DockerError(`"berth ${mode}" requires at least 1 argument.\nSee 'berth ${mode} --help'.`);
  const detach = mode === 'create' || v.detach === true;
  if (v.tty && v.interactive && !detach && !process.stdin.isTTY) throw new DockerError('the input device is not a TTY');
  const body = parseCreateBody(createBodyFromFlags(split.image, split.command, runFlagValues(v, !detach && v.interactive === true)));
  const ctx = await dockerContext(v, { needNode: true });
  await ensureImage(ctx.node(), split.image, (v.pull ?? 'missing') as PullPolicy);
  const obj = await ctx.engine.create(body, { ...(v.name ? { name: v.name } : {}) });
  if (mode === 'create') {
    process.stdout.write(`${dockerIdOf(obj)}\n`);
    return;
  }
  // a run that fails after the create takes back what the create made (container, volumes)
  const discard = () => ctx.engine.discard(obj).catch(() => undefined);
  const removeQuietly = () => ctx.engine.remove(obj, { force: true, volumes: true }).catch(() => undefined);
  if (detach) {
    try {
      await ctx.engine.start(obj);
    } catch (e) {
      await discard();
      throw e;
    }
    process.stdout.write(`${dockerIdOf(obj)}\n`);
    return;
  }
  // attached: attach (registered on the node before the start), arm the wait, start, stream, exit code
  const tty = v.tty === true;
  const stdin = v.interactive === true;
  let rc: RemoteCommand;
  try {
    rc = await attachStream(ctx, obj, { stdin, tty });
  } catch (e) {
    await discard();
    throw e;
  }
  const stopWaiting = new AbortController();
  const waited = ctx.engine.wait(obj, 'next-exit', { signal: stopWaiting.signal });
  waited.catch(() => undefined);
  const joined = joinTerminal(rc, { stdin, tty, signal: (sig) => sendSignal(ctx, obj, sig) });
  try {
    try {
      await ctx.engine.start(obj);
    } catch (e) {
      rc.close();
      await joined.catch(() => undefined);
      await discard();
      const code = (e as { exitCode?: number }).exitCode ?? 125;
      process.stderr.write(`${dockerMessage(e)}\n`);
      throw new ExitError(code);
    }
    const { detached } = await joined;
    if (detached) {
      process.stderr.write('\n');
      return;
    }
    const result = await waited;
    if (v.rm) await removeQuietly();
    const code = result.Error ? startFailureCode(result.Error.Message) : result.StatusCode;
    if (code !== 0) throw new ExitError(code);
  } finally {
    stopWaiting.abort();
  }
}

export function runCommand(argv: string[]): Promise<void> {
  return dockerVerb(125, () => runOrCreate(argv, 'run'));
}

export function createCommand(argv: string[]): Promise<void> {
  return dockerVerb(125, () => runOrCreate(argv, 'create'));
}
