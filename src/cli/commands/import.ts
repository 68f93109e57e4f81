/**
 * `berth import`: a rootfs tarball (file, URL or stdin) becomes a one-layer image on a node: the
 * tarball is sent as the body of POST /images/create?fromSrc=- through the API server (a URL is
 * fetched here, not by the node). The node checks the name and every --change before it reads
 * the body, and writes nothing for a refused request.
 */
import { createReadStream, existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { cliError, nodeFlags, openNodeApi } from './node.js';

const flags = {
  change: { type: 'string', short: 'c', multiple: true, valueName: 'INSTRUCTION', description: 'apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)' },
  message: { type: 'string', short: 'm', valueName: 'MSG', description: 'commit message (the history comment)' },
  ...nodeFlags,
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'import',
  usage: 'berth import [-c INSTRUCTION]... [-m MSG] [--node NAME] FILE|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents of a rootfs tarball (plain or gzip) to create a filesystem image on a node.',
  flags,
  positionals: { min: 1, max: 2 },
  examples: ['berth import rootfs.tar base:1', `berth import --change 'CMD ["sh"]' --change 'ENV A=b' rootfs.tar.gz app:1`, 'cat rootfs.tar | berth import - app:2'],
};

/** The tarball as a stream: stdin, a URL's body, or a file. */
async function source(src: string): Promise<Readable> {
  if (src === '-') return process.stdin;
  if (/^https?:\/\//.test(src)) {
    const res = await fetch(src);
    if (!res.ok || !res.body) throw new CliError(`GET ${src}: HTTP ${res.status}`);
    return Readable.fromWeb(res.body as WebReadableStream);
  }
  if (!existsSync(src)) throw new CliError(`open ${src}: no such file or directory`);
  return createReadStream(src);
}

export async function importCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const [src, ref] = parsed.positionals as [string, string | undefined];
  const body = await source(src);
  const node = await openNodeApi(v).catch((e: unknown) => {
    body.destroy();
    throw e;
  });
  try {
    const id = await node.importImage(body, { ...(ref ? { repo: ref } : {}), ...(v.change?.length ? { changes: v.change } : {}), ...(v.message ? { message: v.message } : {}) });
    process.stdout.write(`${id}\n`);
  } catch (e) {
    cliError(e);
  } finally {
    body.destroy();
  }
}
