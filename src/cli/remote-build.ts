/**
 * `berth build` through the API server, as `docker build` talks to dockerd: the context (without
 * what .dockerignore excludes) goes as a tar to POST nodes/NODE/build, the node's agent builds it,
 * and its progress streams back line by line.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { packContext } from '../client/build-context.js';
import { rawRequest, type RawConnection } from '../client/raw-request.js';
import { CliError } from './errors.js';

export interface RemoteBuildRequest {
  contextDir: string;
  /** The Dockerfile, a file inside the context... */
  dockerfilePath?: string;
  /** ...or its text (read from stdin), sent as one more file of the context. */
  dockerfileText?: string;
  dockerignore?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  node: string;
  quiet: boolean;
  signal?: AbortSignal;
}

/** Where a Dockerfile from stdin goes in the context (as the docker CLI names it, unlikely to clash). */
const STDIN_DOCKERFILE = '.dockerfile.berth-stdin';

export async function remoteBuild(conn: RawConnection, r: RemoteBuildRequest): Promise<{ imageId: string; tags: string[]; node: string }> {
  let rel = STDIN_DOCKERFILE;
  if (r.dockerfileText === undefined) {
    rel = relative(r.contextDir, r.dockerfilePath ?? join(r.contextDir, 'Dockerfile'));
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new CliError(`the Dockerfile ${r.dockerfilePath} is outside the context: it must be inside it (or given on stdin with -f -)`);
  }
  const node = r.node;
  const work = await mkdtemp(join(tmpdir(), 'berth-context-'));
  try {
    const tar = join(work, 'context.tar');
    await packContext(r.contextDir, tar, {
      dockerfile: rel,
      ...(r.dockerignore !== undefined ? { ignoreText: r.dockerignore } : {}),
      ...(r.dockerfileText !== undefined ? { dockerfileText: r.dockerfileText } : {}),
    });
    let res;
    try {
      res = await rawRequest(
        conn,
        'POST',
        `/apis/berth.dev/v1alpha1/nodes/${encodeURIComponent(node)}/build`,
        { tags: JSON.stringify(r.tags), buildargs: JSON.stringify(r.buildArgs), dockerfile: rel, target: r.target, nocache: r.noCache ? 'true' : undefined },
        createReadStream(tar),
      );
    } catch (e) {
      throw new CliError(`build on node ${node}: ${(e as Error).message}`);
    }
    // an interrupted client ends the request: the node cancels the build
    const onAbort = (): void => void res.destroy();
    r.signal?.addEventListener('abort', onAbort, { once: true });
    let result: { imageId: string; tags: string[] } | undefined;
    try {
      for await (const line of createInterface({ input: res, crlfDelay: Infinity })) {
        if (!line.trim()) continue;
        const msg = JSON.parse(line) as { stream?: string; aux?: { ID: string; Tags: string[] }; error?: string };
        if (msg.stream !== undefined && !r.quiet) process.stdout.write(msg.stream);
        if (msg.error !== undefined) throw new CliError(msg.error);
        if (msg.aux) result = { imageId: msg.aux.ID, tags: msg.aux.Tags };
      }
    } finally {
      r.signal?.removeEventListener('abort', onAbort);
    }
    if (r.signal?.aborted) throw new CliError('build interrupted');
    if (!result) throw new CliError(`build on node ${node}: the stream ended without a result`);
    return { ...result, node };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
