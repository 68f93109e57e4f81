/**
 * docker exec: create (the instance is kept here, in the front: Berth runs an exec through the
 * Container's exec subresource when it starts), start (hijacked, or detached), resize and inspect
 * (its exit code once it ended). Finished instances are forgotten after ten minutes.
 */
import { randomBytes } from 'node:crypto';
import { execQueryString } from '../api/exec-query.js';
import { isRunning } from '../client/docker/engine.js';
import { dockerIdOf } from '../client/docker/names.js';
import { openRemoteCommand } from '../client/docker/remote-command.js';
import { containerSubresourcePath } from '../client/subresource.js';
import type { Handler, HijackHandler } from './containers.js';
import type { ExecRecord, FrontContext } from './context.js';
import { HttpError, intParam, readJson, sendJson } from './http.js';
import { bridge } from './streams.js';

const KEEP_MS = 10 * 60_000;
const MAX_EXECS = 1000;

function prune(ctx: FrontContext): void {
  const now = Date.now();
  for (const [id, e] of ctx.execs) if (!e.Running && e.ExitCode !== null && now - e.created > KEEP_MS) ctx.execs.delete(id);
}

function execOf(ctx: FrontContext, id: string): ExecRecord {
  const e = ctx.execs.get(id) ?? [...ctx.execs.values()].find((x) => x.ID.startsWith(id) && id.length >= 3);
  if (!e) throw new HttpError(404, `No such exec instance: ${id}`);
  return e;
}

export const createExec: Handler = async (ctx, req, res, [ref]) => {
  const body = (await readJson(req)) as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') throw new HttpError(400, 'exec config cannot be empty');
  const cmd = body.Cmd;
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((x) => typeof x === 'string')) throw new HttpError(400, 'No exec command specified');
  const c = await ctx.engine.findContainer(ref!);
  if (!isRunning(c)) throw new HttpError(409, `Container ${dockerIdOf(c)} is not running`);
  if ((c.status as { phase?: string } | undefined)?.phase === 'Paused') throw new HttpError(409, `Container ${dockerIdOf(c)} is paused, unpause the container before exec`);
  prune(ctx);
  if (ctx.execs.size >= MAX_EXECS) throw new HttpError(503, 'too many exec instances kept; try again later');
  const env = Array.isArray(body.Env) ? (body.Env as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  for (const e of env) if (!/^[^=]+=/.test(e)) throw new HttpError(400, `invalid environment variable: ${e}`);
  const wd = typeof body.WorkingDir === 'string' ? body.WorkingDir : '';
  if (wd && !wd.startsWith('/')) throw new HttpError(400, `the working directory '${wd}' is invalid, it needs to be an absolute path`);
  const id = randomBytes(32).toString('hex');
  ctx.execs.set(id, {
    ID: id,
    container: c.metadata.name,
    containerId: dockerIdOf(c),
    Cmd: cmd as string[],
    AttachStdin: body.AttachStdin === true,
    AttachStdout: body.AttachStdout !== false,
    AttachStderr: body.AttachStderr !== false,
    Tty: body.Tty === true,
    Privileged: body.Privileged === true,
    User: typeof body.User === 'string' ? body.User : '',
    WorkingDir: wd,
    Env: env,
    Running: false,
    ExitCode: null,
    Pid: 0,
    created: Date.now(),
  });
  sendJson(res, 201, { Id: id });
};

function openExec(ctx: FrontContext, e: ExecRecord, tty: boolean) {
  return openRemoteCommand(
    ctx.conn,
    containerSubresourcePath(ctx.namespace, e.container, 'exec'),
    execQueryString({
      command: e.Cmd,
      stdin: e.AttachStdin,
      stdout: true,
      stderr: !tty,
      tty,
      ...(e.User ? { user: e.User } : {}),
      ...(e.WorkingDir ? { workingDir: e.WorkingDir } : {}),
      ...(e.Env.length ? { env: e.Env } : {}),
    }),
  );
}

/** POST /exec/ID/start: hijacked unless Detach; the exit code is kept for inspect. */
export const startExec: HijackHandler = async (ctx, _req, io, [id]) => {
  const e = execOf(ctx, id!);
  const body = io.body;
  let opts: { Detach?: boolean; Tty?: boolean } = {};
  if (body.length) {
    try {
      opts = JSON.parse(body.toString('utf8')) as typeof opts;
    } catch (err) {
      throw new HttpError(400, `invalid JSON: ${(err as Error).message}`);
    }
  }
  if (e.Running || e.ExitCode !== null) throw new HttpError(409, `exec ${e.ID} has already been started`);
  const tty = opts.Tty ?? e.Tty;
  e.Running = true;
  let rc;
  try {
    rc = await openExec(ctx, e, tty);
  } catch (err) {
    e.Running = false;
    e.ExitCode = 126;
    throw err;
  }
  e.stream = rc;
  const finish = (code: number | undefined) => {
    e.Running = false;
    e.ExitCode = code ?? e.ExitCode ?? 1;
    e.stream = undefined;
  };
  if (opts.Detach) {
    rc.onStdout(() => undefined);
    rc.closeStdin();
    io.accept(tty).end();
    rc.done.then(finish, () => finish(undefined));
    return;
  }
  const socket = io.accept(tty);
  const code = await bridge(socket, rc, { tty, stdin: e.AttachStdin, stdout: e.AttachStdout, stderr: e.AttachStderr });
  if (code !== undefined) finish(code);
  else rc.done.then(finish, () => finish(undefined));
};

export const resizeExec: Handler = async (ctx, _req, res, [id], q) => {
  const e = execOf(ctx, id!);
  const h = intParam(q, 'h');
  const w = intParam(q, 'w');
  if (h === undefined || w === undefined || h < 0 || w < 0) throw new HttpError(400, 'h and w: the height and width are required');
  e.stream?.resize(w, h);
  res.writeHead(200).end();
};

export const inspectExec: Handler = async (ctx, _req, res, [id]) => {
  const e = execOf(ctx, id!);
  sendJson(res, 200, {
    ID: e.ID,
    Running: e.Running,
    ExitCode: e.ExitCode,
    ProcessConfig: { tty: e.Tty, entrypoint: e.Cmd[0], arguments: e.Cmd.slice(1), privileged: e.Privileged, user: e.User },
    OpenStdin: e.AttachStdin,
    OpenStderr: e.AttachStderr,
    OpenStdout: e.AttachStdout,
    CanRemove: !e.Running,
    ContainerID: e.containerId,
    DetachKeys: '',
    Pid: e.Pid,
  });
};
