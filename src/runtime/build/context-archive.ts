/**
 * The build context as `docker build` sends it to the daemon: a tar of the context directory
 * without what .dockerignore excludes (the Dockerfile and .dockerignore themselves always go).
 */
import { IgnoreMatcher, parseIgnoreFile } from './ignore.js';
import { packDirectory } from '../tar/pack-dir.js';
import { TarWriter } from '../tar/writer.js';

export async function packContext(contextDir: string, outTar: string, opts: { dockerfile?: string; ignoreText?: string } = {}): Promise<void> {
  const ignore = new IgnoreMatcher(parseIgnoreFile(opts.ignoreText ?? ''));
  const always = new Set(['.dockerignore', opts.dockerfile ?? 'Dockerfile']);
  const tar = await TarWriter.create(outTar);
  try {
    await packDirectory(tar, contextDir, {
      // A directory an exception may re-include must still be walked.
      filter: (rel) => always.has(rel) || !ignore.excludes(rel) || ignore.hasExceptions,
    });
  } finally {
    await tar.close();
  }
}
