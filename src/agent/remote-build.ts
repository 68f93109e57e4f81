/**
 * Builds sent to this node through the API server, as `docker build` sends its context to dockerd:
 * the request body is the context tar, the answer streams Docker-style JSON lines
 * ({"stream": ...} per line of progress, then {"aux": {"ID": ...}} or {"error": ...}).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { applyLayer, Builder, formatBuildEvent, RuntimeError, type Distribution, type Runtime } from '../runtime/index.js';

const MAX_CONTEXT_BYTES = 4 * 1024 ** 3;

export interface RemoteBuildQuery {
  tags: string[];
  dockerfile: string;
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  /** Push every tag once the build succeeds (berth build --push). */
  push: boolean;
}

function jsonParam<T>(q: URLSearchParams, name: string, check: (v: unknown) => v is T, fallback: T): T {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error(`${name}: not valid JSON`);
  }
  if (!check(v)) throw new Error(`${name}: has the wrong shape`);
  return v;
}

export function parseBuildQuery(q: URLSearchParams): RemoteBuildQuery {
  const tags = jsonParam(q, 'tags', (v): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string'), []);
  const buildArgs = jsonParam(q, 'buildargs', (v): v is Record<string, string> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'), {});
  const target = q.get('target') || undefined;
  const push = q.get('push') === 'true' || q.get('push') === '1';
  if (push && tags.length === 0) throw new Error('push: needs at least one tag to push to');
  return { tags, buildArgs, dockerfile: q.get('dockerfile') || 'Dockerfile', noCache: q.get('nocache') === 'true' || q.get('nocache') === '1', push, ...(target ? { target } : {}) };
}

export async function serveRemoteBuild(runtime: Runtime, q: RemoteBuildQuery, req: IncomingMessage, res: ServerResponse, distribution?: Distribution): Promise<void> {
  await mkdir(join(runtime.root, 'tmp'), { recursive: true });
  const work = await mkdtemp(join(runtime.root, 'tmp', 'remote-build-'));
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  try {
    const tarPath = join(work, 'context.tar');
    let received = 0;
    req.on('data', (c: Buffer) => {
      received += c.length;
      if (received > MAX_CONTEXT_BYTES) req.destroy(new Error(`the build context is larger than ${MAX_CONTEXT_BYTES} bytes`));
    });
    await pipeline(req, createWriteStream(tarPath));
    const contextDir = join(work, 'context');
    await mkdir(contextDir);
    // The same safe unpacking as image layers: nothing may land outside the context directory.
    await applyLayer(tarPath, contextDir, 'flatten');
    await rm(tarPath);
    const dockerfilePath = resolve(contextDir, q.dockerfile);
    if (dockerfilePath !== contextDir && !dockerfilePath.startsWith(contextDir + sep)) throw new RuntimeError('Invalid', `dockerfile: "${q.dockerfile}" leaves the build context`);
    const dockerfile = await readFile(dockerfilePath, 'utf8').catch(() => {
      throw new RuntimeError('Invalid', `dockerfile: cannot read "${q.dockerfile}" in the build context`);
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    const line = (obj: unknown): void => {
      res.write(`${JSON.stringify(obj)}\n`);
    };
    try {
      const result = await new Builder(runtime).build(
        {
          contextDir,
          dockerfile,
          dockerfileName: basename(q.dockerfile),
          buildArgs: q.buildArgs,
          tags: q.tags,
          ...(q.target ? { target: q.target } : {}),
          noCache: q.noCache,
        },
        { onEvent: (e) => line({ stream: formatBuildEvent(e) }), signal: abort.signal },
      );
      for (const tag of q.push && distribution ? result.tags : []) {
        line({ stream: `Pushing ${tag}\n` });
        const pushed = await distribution!.push(tag);
        line({ stream: `${tag}: digest: ${pushed.digest} size: ${pushed.size} (${pushed.layersPushed} layers pushed, ${pushed.layersSkipped} already there)\n` });
      }
      line({ aux: { ID: result.imageId, Tags: result.tags } });
    } catch (e) {
      line({ error: (e as Error).message });
    }
    res.end();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
