/** `berth import`: a rootfs tarball (file, URL or stdin) becomes a one-layer image on the local runtime. */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';
import { CliError } from '../errors.js';

const flags = {
  change: { type: 'string', short: 'c', multiple: true, valueName: 'INSTRUCTION', description: 'apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)' },
  message: { type: 'string', short: 'm', valueName: 'MSG', description: 'commit message (the history comment)' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory; the runtime lives in DIR/runtime' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'import',
  usage: 'berth import [-c INSTRUCTION]... [-m MSG] FILE|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents of a rootfs tarball (plain or gzip) to create a filesystem image.',
  flags,
  positionals: { min: 1, max: 2 },
  examples: ['berth import rootfs.tar base:1', `berth import --change 'CMD ["sh"]' --change 'ENV A=b' rootfs.tar.gz app:1`, 'cat rootfs.tar | berth import - app:2'],
};

/** Stdin or a URL, saved where the runtime keeps its temporary files. */
async function download(source: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `import-${process.pid}-${Date.now()}.tar`);
  try {
    if (source === '-') await pipeline(process.stdin, createWriteStream(path));
    else {
      const res = await fetch(source);
      if (!res.ok || !res.body) throw new Error(`GET ${source}: HTTP ${res.status}`);
      await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(path));
    }
    return path;
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}

export async function importCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const [source, ref] = parsed.positionals as [string, string | undefined];
  const { Runtime } = await import('../../runtime/index.js');
  const { parseConfigChanges } = await import('../../runtime/build/changes.js');
  const { normaliseTaggedName } = await import('../../runtime/images/reference.js');
  let fetched: string | undefined;
  try {
    // refuse a bad change or name before anything is read or written
    const changes = v.change?.length ? parseConfigChanges(v.change) : undefined;
    if (ref) normaliseTaggedName(ref);
    const root = join(resolveDataDir(v['data-dir']), 'runtime');
    const rt = new Runtime({ root });
    if (source === '-' || /^https?:\/\//.test(source)) fetched = await download(source, join(root, 'tmp'));
    else if (!existsSync(source)) throw new Error(`open ${source}: no such file or directory`);
    const id = await rt.importImage(fetched ?? source, {
      ...(ref ? { ref } : {}),
      ...(changes ? { changes } : {}),
      ...(v.message ? { message: v.message } : {}),
    });
    process.stdout.write(`${id}\n`);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  } finally {
    if (fetched) await rm(fetched, { force: true });
  }
}
