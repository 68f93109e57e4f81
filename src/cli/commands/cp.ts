/** `berth cp`: copy files between a container and the local filesystem (docker cp), as tar through the API. */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { containerSubresourcePath, readAll, requestSubresource } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError } from '../errors.js';

const spec = {
  name: 'cp',
  usage: 'berth cp NAME:PATH LOCALPATH | berth cp LOCALPATH NAME:PATH',
  summary: 'Copy files or directories between a container and the local filesystem (docker cp).',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    archive: { type: 'boolean', short: 'a', description: 'keep owners and setuid/setgid bits of files copied out (docker cp -a); without it they belong to you and lose those bits' },
  },
  positionals: { min: 2, max: 2 },
  examples: ['berth cp hello:/etc/hostname ./hostname', 'berth cp ./site httpd:/www', 'berth cp -a hello:/srv ./srv'],
} satisfies CommandSpec<FlagSpecs>;

function containerPath(arg: string): { name: string; path: string } | undefined {
  const m = /^([a-z0-9][-a-z0-9.]*):(\/.*)$/.exec(arg);
  return m ? { name: m[1]!, path: m[2]! } : undefined;
}

function waitTar(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok() : fail(new CliError(`${what}: tar failed: ${err.trim()}`))));
  });
}

export async function cpCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const [a, b] = parsed.positionals as [string, string];
  const from = containerPath(a);
  const to = containerPath(b);
  if ((from && to) || (!from && !to)) throw new CliError('cp: exactly one of the two paths must be NAME:/ABSOLUTE/PATH in a container');
  const { client, namespace } = connect(parsed.values);
  if (from) {
    const res = await requestSubresource(client.kc, 'GET', containerSubresourcePath(namespace, from.name, 'archive'), { path: from.path });
    const target = resolve(b);
    const intoDir = await stat(target).then((st) => st.isDirectory()).catch(() => false);
    // extracted next to where it goes, so that the final rename keeps what tar made (owners with -a)
    const tmp = await mkdtemp(join(intoDir ? target : dirname(target), '.berth-cp-'));
    try {
      // files from a container are the container's: they take the caller's ownership and umask (no
      // setuid/setgid) unless -a; GNU tar refuses absolute and ".." names and links leading out
      const keep = parsed.values.archive === true ? ['--same-owner', '--same-permissions'] : ['--no-same-owner', '--no-same-permissions'];
      const tar = spawn('tar', ['-C', tmp, '-xf', '-', ...keep], { stdio: ['pipe', 'ignore', 'pipe'] });
      res.pipe(tar.stdin!);
      await waitTar(tar, 'cp');
      const [entry] = await readdir(tmp);
      if (!entry) throw new CliError(`cp: ${a}: nothing was copied`);
      const dest = intoDir ? join(target, entry) : target;
      await rename(join(tmp, entry), dest).catch(async (e: unknown) => {
        // an existing directory there: merged into, as docker cp does
        if (!['ENOTEMPTY', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        await cp(join(tmp, entry), dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return;
  }
  const src = resolve(a);
  await stat(src).catch(() => {
    throw new CliError(`cp: local path "${a}" does not exist`);
  });
  const tar = spawn('tar', ['-C', dirname(src), '-cf', '-', '--', basename(src)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = waitTar(tar, 'cp');
  const res = await requestSubresource(client.kc, 'PUT', containerSubresourcePath(namespace, to!.name, 'archive'), { path: to!.path }, tar.stdout!);
  await readAll(res);
  await done;
}
