/**
 * `berth build` through the API server, as `docker build` talks to dockerd: the context (without
 * what .dockerignore excludes) goes as a tar to POST nodes/NODE/build, the node's agent builds it,
 * and its progress streams back line by line.
 */
import { createReadStream } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { packContext } from '../runtime/build/context-archive.js';
import type { DirectConnection } from './direct-connection.js';
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

/** One request with the connection's credentials; a non-2xx answer becomes a CliError with the Status message. */
async function request(conn: DirectConnection, method: string, path: string, query: Record<string, string | undefined>, body?: NodeJS.ReadableStream): Promise<IncomingMessage> {
  const url = new URL(path, conn.server);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  const headers = { ...(conn.options.headers as Record<string, string>), accept: 'application/json', ...(body ? { 'content-type': 'application/x-tar' } : {}) };
  const lib = url.protocol === 'https:' ? https : http;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = lib.request(url, { ...conn.options, method, headers }, resolve);
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
  const code = res.statusCode ?? 0;
  if (code >= 200 && code < 300) return res;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  let message = Buffer.concat(chunks).toString('utf8');
  try {
    message = (JSON.parse(message) as { message?: string }).message ?? message;
  } catch {
    // not a Status
  }
  throw new CliError(message || `${method} ${path}: HTTP ${code}`);
}

/** The node to build on: the one named, else the first Ready, schedulable node. */
async function pickNode(conn: DirectConnection, wanted: string | undefined): Promise<string> {
  if (wanted) return wanted;
  const res = await request(conn, 'GET', '/apis/berth.dev/v1alpha1/nodes', {});
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const nodes = JSON.parse(Buffer.concat(chunks).toString('utf8')) as NodeList;
  const ready = nodes.items
    .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => n.metadata.name)
    .sort();
  if (ready.length === 0) throw new CliError('no Ready node to build on (is an agent running? berth build --local builds on this machine)');
  return ready[0]!;
}

export async function remoteBuild(conn: DirectConnection, r: RemoteBuildRequest): Promise<{ imageId: string; tags: string[]; node: string }> {
  const rel = relative(r.contextDir, r.dockerfilePath);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new CliError(`the Dockerfile ${r.dockerfilePath} is outside the context: through the API server it must be inside it (or use --local)`);
  const node = await pickNode(conn, r.node);
  const work = await mkdtemp(join(tmpdir(), 'berth-context-'));
  try {
    const tar = join(work, 'context.tar');
    await packContext(r.contextDir, tar, { dockerfile: rel, ...(r.dockerignore !== undefined ? { ignoreText: r.dockerignore } : {}) });
    let res;
    try {
      res = await request(
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
