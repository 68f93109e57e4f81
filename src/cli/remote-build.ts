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
import { rawRequest, readAll, type RawConnection } from '../client/raw-request.js';
import { packContext } from '../runtime/build/context-archive.js';
import { CliError } from './errors.js';

export interface RemoteBuildRequest {
  contextDir: string;
  dockerfilePath: string;
  dockerignore?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  node?: string;
  push: boolean;
  quiet: boolean;
}

interface NodeList {
  items: { metadata: { name: string }; spec?: { unschedulable?: boolean }; status?: { conditions?: { type: string; status: string }[] } }[];
}

/** The node to build on: the one named, else the first Ready, schedulable node. */
async function pickNode(conn: RawConnection, wanted: string | undefined): Promise<string> {
  if (wanted) return wanted;
  let nodes: NodeList;
  try {
    nodes = JSON.parse(await readAll(await rawRequest(conn, 'GET', '/apis/berth.dev/v1alpha1/nodes'))) as NodeList;
  } catch (e) {
    throw new CliError(`listing nodes: ${(e as Error).message}`);
  }
  const ready = nodes.items
    .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => n.metadata.name)
    .sort();
  if (ready.length === 0) throw new CliError('no Ready node to build on (is an agent running? berth build --local builds on this machine)');
  return ready[0]!;
}

export async function remoteBuild(conn: RawConnection, r: RemoteBuildRequest): Promise<{ imageId: string; tags: string[]; node: string }> {
  const rel = relative(r.contextDir, r.dockerfilePath);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new CliError(`the Dockerfile ${r.dockerfilePath} is outside the context: through the API server it must be inside it (or use --local)`);
  const node = await pickNode(conn, r.node);
  const work = await mkdtemp(join(tmpdir(), 'berth-context-'));
  try {
    const tar = join(work, 'context.tar');
    await packContext(r.contextDir, tar, { dockerfile: rel, ...(r.dockerignore !== undefined ? { ignoreText: r.dockerignore } : {}) });
    let res;
    try {
      res = await rawRequest(
        conn,
        'POST',
        `/apis/berth.dev/v1alpha1/nodes/${encodeURIComponent(node)}/build`,
        { tags: JSON.stringify(r.tags), buildargs: JSON.stringify(r.buildArgs), dockerfile: rel, target: r.target, nocache: r.noCache ? 'true' : undefined, push: r.push ? 'true' : undefined },
        createReadStream(tar),
      );
    } catch (e) {
      throw new CliError(`build on node ${node}: ${(e as Error).message}`);
    }
    let result: { imageId: string; tags: string[] } | undefined;
    for await (const line of createInterface({ input: res, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as { stream?: string; aux?: { ID: string; Tags: string[] }; error?: string };
      if (msg.stream !== undefined && !r.quiet) process.stdout.write(msg.stream);
      if (msg.error !== undefined) throw new CliError(msg.error);
      if (msg.aux) result = { imageId: msg.aux.ID, tags: msg.aux.Tags };
    }
    if (!result) throw new CliError(`build on node ${node}: the stream ended without a result`);
    return { ...result, node };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
