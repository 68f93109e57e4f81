/**
 * A client of one node's image API through the API server (nodes/NAME/proxy/PATH): what the
 * CLI's image verbs call, as the docker CLI calls dockerd. Answers are Docker Engine API shapes;
 * progress streams are Docker's JSON lines, read line by line with a bound on each line.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { imagePath, JsonMessageSchema, nodeProxyPath, REGISTRY_AUTH_HEADER, type JsonMessage } from '../api/node-api.js';
import { readBody } from './api-client.js';
import { rawRequest, readAll, type RawConnection } from './raw-request.js';

/** A line of a progress stream longer than this is refused (a broken or hostile server). */
const MAX_LINE = 1 << 20;
/** JSON answers (lists, inspect) are read into memory up to this size. */
const MAX_JSON = 64 << 20;

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  Created: number;
  Size: number;
  Labels: Record<string, string>;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export class NodeApiError extends Error {}

type Params = Record<string, string | number | boolean | string[] | undefined>;

/** A message of the stream that reports a failure: thrown as an Error with its text. */
function failureOf(m: JsonMessage): string | undefined {
  return m.error ?? m.errorDetail?.message;
}

export class NodeApiClient {
  constructor(
    private readonly conn: RawConnection,
    readonly node: string,
  ) {}

  private async request(method: string, path: string, params: Params = {}, opts: { body?: Readable; json?: unknown; registryAuth?: string } = {}): Promise<IncomingMessage> {
    const url = new URL(nodeProxyPath(this.node, path), 'http://placeholder');
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(x));
    }
    const headers = { ...(this.conn.options.headers as Record<string, string> | undefined), ...(opts.registryAuth ? { [REGISTRY_AUTH_HEADER]: opts.registryAuth } : {}) };
    const conn: RawConnection = { server: this.conn.server, options: { ...this.conn.options, headers } };
    return rawRequest(conn, method, `${url.pathname}${url.search}`, {}, opts.body ?? opts.json);
  }

  private async json<T>(method: string, path: string, params: Params = {}, opts: { json?: unknown; registryAuth?: string } = {}): Promise<T> {
    const res = await this.request(method, path, params, opts);
    const text = await readBounded(res, MAX_JSON);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Reads a JSON progress stream to its end; a failure line becomes an error. */
  private async stream(res: IncomingMessage, onMessage: (m: JsonMessage) => void): Promise<void> {
    for await (const line of boundedLines(res, MAX_LINE, `node ${this.node}`)) {
      if (!line.trim()) continue;
      let msg: JsonMessage;
      try {
        msg = JsonMessageSchema.parse(JSON.parse(line));
      } catch {
        throw new NodeApiError(`node ${this.node}: not a progress line: ${line.slice(0, 200)}`);
      }
      const failure = failureOf(msg);
      if (failure !== undefined) throw new NodeApiError(failure);
      onMessage(msg);
    }
  }

  listImages(filters: Record<string, string[]> = {}, all = false): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', { ...(Object.keys(filters).length ? { filters: JSON.stringify(filters) } : {}), ...(all ? { all: 1 } : {}) });
  }

  inspectImage(name: string): Promise<Record<string, unknown>> {
    return this.json('GET', imagePath(name, 'json'));
  }

  history(name: string): Promise<HistoryItem[]> {
    return this.json('GET', imagePath(name, 'history'));
  }

  async tag(source: string, repo: string, tag?: string): Promise<void> {
    await readAll(await this.request('POST', imagePath(source, 'tag'), { repo, tag }));
  }

  removeImage(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    return this.json('DELETE', imagePath(name), { force: opts.force ? 1 : undefined, noprune: opts.noprune ? 1 : undefined });
  }

  /** POST /images/create?fromImage=: streams the pull's messages to `onMessage`. */
  async pull(fromImage: string, opts: { platform?: string; registryAuth?: string; onMessage: (m: JsonMessage) => void }): Promise<void> {
    const res = await this.request('POST', '/images/create', { fromImage, platform: opts.platform }, { ...(opts.registryAuth ? { registryAuth: opts.registryAuth } : {}) });
    await this.stream(res, opts.onMessage);
  }

  async push(name: string, opts: { tag?: string; chunkSize?: number; registryAuth?: string; onMessage: (m: JsonMessage) => void }): Promise<void> {
    const res = await this.request('POST', imagePath(name, 'push'), { tag: opts.tag, chunksize: opts.chunkSize }, { ...(opts.registryAuth ? { registryAuth: opts.registryAuth } : {}) });
    await this.stream(res, opts.onMessage);
  }

  /** POST /images/create?fromSrc=-: the tarball as the body; answers the new image's ID. */
  async importImage(body: Readable, opts: { repo?: string; changes?: string[]; message?: string }): Promise<string> {
    const res = await this.request('POST', '/images/create', { fromSrc: '-', repo: opts.repo, changes: opts.changes, message: opts.message }, { body });
    let id: string | undefined;
    await this.stream(res, (m) => {
      if (m.status?.startsWith('sha256:')) id = m.status;
    });
    if (!id) throw new NodeApiError(`node ${this.node}: the import answered no image ID`);
    return id;
  }

  async commit(container: string, opts: { repo?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean }): Promise<string> {
    const r = await this.json<{ Id?: string }>('POST', '/commit', {
      container,
      repo: opts.repo,
      comment: opts.comment,
      author: opts.author,
      changes: opts.changes,
      pause: opts.pause === false ? 0 : undefined,
    });
    if (!r?.Id) throw new NodeApiError(`node ${this.node}: the commit answered no image ID`);
    return r.Id;
  }

  search(term: string, limit: number, registryAuth?: string): Promise<Array<{ name: string }>> {
    return this.json('GET', '/images/search', { term, limit }, { ...(registryAuth ? { registryAuth } : {}) });
  }

  /** POST /auth: the node checks the login against the registry (nothing is saved on the node). */
  async auth(serveraddress: string, username: string, password: string): Promise<void> {
    await this.json('POST', '/auth', {}, { json: { username, password, serveraddress } });
  }

  systemDf(): Promise<Record<string, unknown>> {
    return this.json('GET', '/system/df');
  }
}

/** The lines of a stream, refusing one longer than `max` bytes before it is all in memory. */
export async function* boundedLines(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, max: number, what: string): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  for await (const chunk of input) {
    pending = Buffer.concat([pending, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    let nl: number;
    while ((nl = pending.indexOf(0x0a)) >= 0) {
      yield pending.subarray(0, nl).toString('utf8').replace(/\r$/, '');
      pending = pending.subarray(nl + 1);
    }
    if (pending.length > max) throw new NodeApiError(`${what}: a progress line longer than ${max} bytes`);
  }
  if (pending.length) yield pending.toString('utf8');
}

async function readBounded(res: IncomingMessage, limit: number): Promise<string> {
  try {
    return await readBody(res, limit);
  } catch (e) {
    if ((e as Error).message.startsWith('response larger than')) throw new NodeApiError(`answer larger than ${limit} bytes`);
    throw e;
  }
}
