/**
 * The build context as `docker build` sends it to the daemon: a tar of the context directory
 * without what .dockerignore excludes (the Dockerfile and .dockerignore themselves always go),
 * entries sorted by name, hardlinks kept, device files included, sockets skipped as tar(1) does.
 * A Dockerfile read from stdin goes in as one more file, as the docker CLI adds it.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IgnoreMatcher, parseIgnoreFile } from '../util/dockerignore.js';
import { packEntry } from '../util/tar/pack-dir.js';
import { TarWriter } from '../util/tar/writer.js';

export interface PackContextOptions {
  /** The Dockerfile's path inside the context (always sent). */
  dockerfile?: string;
  /** .dockerignore text (default: none). */
  ignoreText?: string;
  /** A Dockerfile that is not a file of the context (read from stdin): added under `dockerfile`. */
  dockerfileText?: string;
}

export async function packContext(contextDir: string, outTar: string, opts: PackContextOptions = {}): Promise<void> {
  const ignore = new IgnoreMatcher(parseIgnoreFile(opts.ignoreText ?? ''));
  const dockerfile = opts.dockerfile ?? 'Dockerfile';
  const always = new Set(['.dockerignore', dockerfile]);
  const tar = await TarWriter.create(outTar);
  try {
    const inodes = new Map<string, string>();
    const walk = async (rel: string): Promise<void> => {
      for (const name of (await readdir(rel ? join(contextDir, rel) : contextDir)).sort()) {
        const childRel = rel ? `${rel}/${name}` : name;
        if (opts.dockerfileText !== undefined && childRel === dockerfile) continue;
        const excluded = !always.has(childRel) && ignore.excludes(childRel);
        if (excluded && !ignore.hasExceptions) continue;
        const st = await lstat(join(contextDir, childRel));
        // an excluded directory is still walked when an exception may re-include something below it
        if (excluded && !st.isDirectory()) continue;
        await packEntry(tar, contextDir, childRel, st, inodes);
        if (st.isDirectory()) await walk(childRel);
      }
    };
    await walk('');
    if (opts.dockerfileText !== undefined) await tar.addBuffer({ name: dockerfile, mode: 0o644, mtime: Math.floor(Date.now() / 1000) }, Buffer.from(opts.dockerfileText, 'utf8'));
  } finally {
    await tar.close();
  }
}
