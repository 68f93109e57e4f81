/**
 * Declarative builds for Image spec.source.build: fetch the context (a directory on the node, or a
 * git repository cloned into a temp dir), build with the runtime's builder, keep the log's tail.
 * Rebuilding an unchanged source is answered by the layer cache, so the reconciler may simply
 * build again on every pass: a changed file or a new commit yields a new image, nothing else does.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import type { BuildSource } from '../api/image.js';
import { Builder, formatBuildEvent, type Runtime } from '../runtime/index.js';

const LOG_LINES = 20;

export interface BuiltImage {
  imageId: string;
  /** The commit built from, for git contexts. */
  revision?: string;
  log: string[];
}

/** A failed build, with the log tail that explains it. */
export class BuildFailure extends Error {
  constructor(
    message: string,
    readonly log: string[],
  ) {
    super(message);
  }
}

export async function buildFromSource(runtime: Runtime, ref: string, build: BuildSource, signal?: AbortSignal): Promise<BuiltImage> {
  const log: string[] = [];
  const keep = (line: string): void => {
    for (const l of line.split('\n')) if (l.trim()) log.push(l);
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
  };
  let tmp: string | undefined;
  try {
    let contextDir: string;
    let revision: string | undefined;
    if (build.context.git) {
      await mkdir(join(runtime.root, 'tmp'), { recursive: true });
      tmp = await mkdtemp(join(runtime.root, 'tmp', 'build-git-'));
      try {
        // URL and ref checked, `--` before them, no ext transport: the runtime's hardened git (build/git.ts)
        revision = await runtime.fetchGitContext(tmp, build.context.git.url, build.context.git.ref);
      } catch (e) {
        throw new BuildFailure(`spec.source.build.context.git: ${(e as Error).message}`, log);
      }
      contextDir = resolve(tmp, build.context.git.path ?? '.');
      if (contextDir !== tmp && !contextDir.startsWith(tmp + sep)) throw new BuildFailure('spec.source.build.context.git.path leaves the repository', log);
    } else {
      contextDir = build.context.dir!;
    }
    const dockerfilePath = resolve(contextDir, build.dockerfile ?? 'Dockerfile');
    let dockerfile: string;
    try {
      dockerfile = await readFile(dockerfilePath, 'utf8');
    } catch (e) {
      throw new BuildFailure(`spec.source.build.dockerfile: cannot read ${dockerfilePath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, log);
    }
    try {
      const result = await new Builder(runtime).build(
        {
          contextDir,
          dockerfile,
          dockerfileName: basename(dockerfilePath),
          ...(build.buildArgs ? { buildArgs: build.buildArgs } : {}),
          tags: [ref],
          ...(build.target ? { target: build.target } : {}),
          ...(build.noCache ? { noCache: true } : {}),
        },
        { onEvent: (e) => keep(formatBuildEvent(e)), ...(signal ? { signal } : {}) },
      );
      return { imageId: result.imageId, ...(revision ? { revision } : {}), log };
    } catch (e) {
      keep(`error: ${(e as Error).message}`);
      throw new BuildFailure((e as Error).message, log);
    }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
