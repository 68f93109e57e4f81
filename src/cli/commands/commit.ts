/** `berth commit`: a container's changes become a new image on the local runtime. */
import { join } from 'node:path';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';
import { CliError } from '../errors.js';

const flags = {
  message: { type: 'string', short: 'm', valueName: 'MSG', description: 'commit message (the history comment)' },
  author: { type: 'string', short: 'a', valueName: 'AUTHOR', description: 'author, e.g. "Jane <jane@example.com>"' },
  change: { type: 'string', short: 'c', multiple: true, valueName: 'INSTRUCTION', description: 'apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)' },
  pause: { type: 'boolean', short: 'p', default: true, description: 'pause the container while committing' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory; the runtime lives in DIR/runtime' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'commit',
  usage: 'berth commit [-m MSG] [-a AUTHOR] [-c INSTRUCTION]... CONTAINER [REPOSITORY[:TAG]]',
  summary: "Create a new image from a container's changes.",
  flags,
  positionals: { min: 1, max: 2 },
  examples: ['berth commit -m "added config" web app:v2', `berth commit --change 'CMD ["sh"]' --change 'ENV MODE=prod' web app:v3`],
};

export async function commitCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const [container, ref] = parsed.positionals as [string, string | undefined];
  const { Runtime } = await import('../../runtime/index.js');
  const { parseConfigChanges } = await import('../../runtime/build/changes.js');
  const { normaliseTaggedName } = await import('../../runtime/images/reference.js');
  const rt = new Runtime({ root: join(resolveDataDir(v['data-dir']), 'runtime') });
  try {
    const rec = await rt.containers.resolve(container);
    const base = await rt.images.config(rec.imageId);
    // refuse a bad change or name before anything is written
    const changes = v.change?.length ? parseConfigChanges(v.change, base.config ?? {}) : undefined;
    if (ref) normaliseTaggedName(ref);
    const id = await rt.containers.commit(rec.id, {
      ...(ref ? { ref } : {}),
      ...(v.author ? { author: v.author } : {}),
      ...(v.message ? { message: v.message } : {}),
      ...(changes ? { changes } : {}),
      pause: v.pause !== false,
    });
    process.stdout.write(`${id}\n`);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}
