/**
 * The node image API's transfers, as dockerd serves them: pull and push with Docker's JSON
 * progress lines (POST /images/create?fromImage=, POST /images/{name}/push), import of a rootfs
 * tarball body (POST /images/create?fromSrc=-), load and save of image archives, and commit of a
 * Container. Every parameter is checked before anything is read or written; a refused request
 * leaves no file behind (bodies land in the runtime's tmp directory and go when the request ends).
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatImageRef, parseImageRef } from '../api/imageref.js';
import { parseConfigChanges, RuntimeError, type Distribution, type LayerProgress, type Runtime } from '../runtime/index.js';
import { badRequest, drain, HttpError, JsonStream, receiveBody, send } from './http-io.js';
import { runtimeContainerName } from './names.js';
import { containerKey, imageName, targetName, type Query } from './query-params.js';

/** Largest tarball an import or load takes. */
export const MAX_ARCHIVE_BYTES = 16 * 1024 ** 3;
const MAX_CHANGES = 256;
/** Progress lines of one layer while it moves: at most one per this many ms (status changes always go). */
const PROGRESS_INTERVAL_MS = 100;

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

/** Docker's per-layer progress line, throttled while bytes move. */
function progressWriter(out: JsonStream, first: () => void): (p: LayerProgress) => void {
  const last = new Map<string, { status: string; at: number }>();
  return (p) => {
    const id = short(p.digest);
    const now = Date.now();
    const prev = last.get(id);
    const moving = p.status === 'Downloading' || p.status === 'Pushing';
    if (moving && prev?.status === p.status && now - prev.at < PROGRESS_INTERVAL_MS && p.current < p.total) return;
    last.set(id, { status: p.status, at: now });
    first();
    out.write(moving ? { status: p.status, progressDetail: { current: p.current, total: p.total }, id } : { status: p.status, id });
  };
}

/** Docker Hub's short names show as library/NAME in "Pulling from", as dockerd writes them. */
function repositoryOf(ref: string): string {
  const r = parseImageRef(ref);
  if (!r) return ref;
  if (r.domain) return `${r.domain}/${r.path}`;
  return r.path.includes('/') ? r.path : `library/${r.path}`;
}

function parsePlatform(v: string | undefined): { os: string; architecture: string } | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^([a-z0-9_]+)\/([a-z0-9_]+)$/.exec(v);
  if (!m) throw badRequest(`platform: "${v.slice(0, 100)}" is not OS/ARCH (variants are not supported)`);
  return { os: m[1]!, architecture: m[2]! };
}

export class ImageTransfers {
  constructor(private readonly runtime: Runtime) {}

  private async workDir(prefix: string): Promise<string> {
    await mkdir(join(this.runtime.root, 'tmp'), { recursive: true });
    return mkdtemp(join(this.runtime.root, 'tmp', `${prefix}-`));
  }

  /** POST /images/create?fromImage=&tag=&platform=: a pull, progress streamed as dockerd does. */
  async pull(q: Query, registry: Distribution, res: ServerResponse): Promise<void> {
    const from = q.required('fromImage');
    const parsed = parseImageRef(from);
    if (!parsed) throw badRequest(`fromImage: "${from.slice(0, 300)}" is not an image reference`);
    const tag = q.string('tag');
    if (tag) {
      if (/^sha256:[a-f0-9]{64}$/.test(tag)) {
        parsed.digest = tag;
        delete parsed.tag;
      } else if (/^[\w][\w.-]{0,127}$/.test(tag)) parsed.tag = tag;
      else throw badRequest(`tag: "${tag.slice(0, 300)}" is not a tag or a sha256 digest`);
    }
    const platform = parsePlatform(q.string('platform'));
    const ref = formatImageRef(parsed);
    const out = new JsonStream(res);
    let started = false;
    const first = (): void => {
      if (started) return;
      started = true;
      out.write({ status: `Pulling from ${repositoryOf(ref)}`, id: parsed.digest ?? parsed.tag ?? 'latest' });
    };
    try {
      const r = await registry.pull(ref, { onProgress: progressWriter(out, first), ...(platform ? { platform } : {}) });
      first();
      const name = r.name ?? `${r.ref.registry}/${r.ref.repository}@${r.digest}`;
      out.write({ status: `Digest: ${r.digest}` });
      out.write({ status: r.layersDownloaded > 0 ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
      out.write({ aux: { ID: r.id, Digest: r.digest, Name: name } });
      out.end();
    } catch (e) {
      out.end(e);
    }
  }

  /** POST /images/{name}/push?tag=: pushes an image of this node, progress streamed as dockerd does. */
  async push(name: string, q: Query, registry: Distribution, res: ServerResponse): Promise<void> {
    const parsed = parseImageRef(name);
    if (!parsed) throw badRequest(`name: "${name.slice(0, 300)}" is a bare image ID: push a name (tag the image first)`);
    if (parsed.digest) throw badRequest(`name: "${name.slice(0, 300)}": push needs a tag, not a digest`);
    const tag = q.string('tag');
    if (tag) {
      if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw badRequest(`tag: "${tag.slice(0, 300)}" is not a valid tag`);
      parsed.tag = tag;
    }
    const chunkSize = q.int('chunksize', 1, 1024 ** 3);
    const target = formatImageRef(parsed);
    const out = new JsonStream(res);
    let started = false;
    const first = (): void => {
      if (started) return;
      started = true;
      out.write({ status: `The push refers to repository [${parsed.domain ? `${parsed.domain}/` : 'docker.io/'}${parsed.path}]` });
    };
    try {
      const r = await registry.push(target, { onProgress: progressWriter(out, first), ...(chunkSize ? { chunkSize } : {}) });
      first();
      const t = r.ref.tag ?? 'latest';
      out.write({ status: `${t}: digest: ${r.digest} size: ${r.size}` });
      out.write({ progressDetail: {}, aux: { Tag: t, Digest: r.digest, Size: r.size } });
      out.end();
    } catch (e) {
      out.end(e);
    }
  }

  /** POST /images/create?fromSrc=-&repo=&tag=&changes=&message=: the body is a rootfs tarball (plain or gzip). */
  async importImage(q: Query, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let opts: { ref?: string; changes?: ReturnType<typeof parseConfigChanges>; message?: string };
    try {
      if (q.string('fromSrc') !== '-') throw badRequest('fromSrc: only "-" (the tarball as the request body) is supported; fetch a URL on the client and send its body');
      const repo = q.string('repo');
      const tag = q.string('tag');
      if (!repo && tag) throw badRequest('tag: needs repo');
      const changes = q.list('changes', MAX_CHANGES);
      const message = q.string('message');
      opts = {
        ...(repo ? { ref: targetName(repo, tag) } : {}),
        ...(changes.length ? { changes: parseConfigChanges(changes) } : {}),
        ...(message ? { message } : {}),
      };
    } catch (e) {
      await drain(req);
      throw e;
    }
    const work = await this.workDir('import');
    try {
      const tar = join(work, 'rootfs.tar');
      await receiveBody(req, tar, MAX_ARCHIVE_BYTES);
      const id = await this.runtime.importImage(tar, opts);
      const out = new JsonStream(res);
      out.write({ status: id });
      out.end();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** POST /images/load: the body is a docker-archive or OCI archive; one line per image loaded. */
  async load(q: Query, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      q.bool('quiet');
    } catch (e) {
      await drain(req);
      throw e;
    }
    const work = await this.workDir('load');
    try {
      const tar = join(work, 'images.tar');
      await receiveBody(req, tar, MAX_ARCHIVE_BYTES);
      const loaded = await this.runtime.loadImages(tar);
      const out = new JsonStream(res);
      for (const img of loaded) {
        if (img.names.length === 0) out.write({ stream: `Loaded image ID: ${img.id}\n` });
        for (const n of img.names) out.write({ stream: `Loaded image: ${n}\n` });
      }
      out.end();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** GET /images/get?names=...: the images as one docker-archive tar stream. */
  async save(q: Query, res: ServerResponse): Promise<void> {
    const names = q.list('names', 100).map((n) => imageName(n, 'names'));
    if (names.length === 0) throw badRequest('names: required (one or more images)');
    const work = await this.workDir('save');
    try {
      const tar = join(work, 'images.tar');
      await this.runtime.saveImages(names, tar, 'docker-archive');
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      await pipeline(createReadStream(tar), res).catch(() => undefined);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** POST /commit?container=NS/NAME&repo=&tag=&comment=&author=&changes=&pause=: 201 {Id}, as dockerd answers. */
  async commit(q: Query, res: ServerResponse): Promise<void> {
    const key = containerKey(q.required('container'));
    const repo = q.string('repo');
    const tag = q.string('tag');
    if (!repo && tag) throw badRequest('tag: needs repo');
    const ref = repo ? targetName(repo, tag) : undefined;
    const comment = q.string('comment');
    const author = q.string('author');
    const changes = q.list('changes', MAX_CHANGES);
    const pause = q.bool('pause', true);
    let rec;
    try {
      rec = await this.runtime.containers.resolve(runtimeContainerName(key.namespace, key.name));
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'NotFound') throw new HttpError(404, `container: ${key.namespace}/${key.name} has no runtime container on this node`);
      throw e;
    }
    const base = await this.runtime.images.config(rec.imageId);
    // a bad change is refused before anything is written
    const parsed = changes.length ? parseConfigChanges(changes, base.config ?? {}) : undefined;
    const id = await this.runtime.containers.commit(rec.id, {
      ...(ref ? { ref } : {}),
      ...(author ? { author } : {}),
      ...(comment ? { message: comment } : {}),
      ...(parsed ? { changes: parsed } : {}),
      pause,
    });
    send(res, 201, { Id: id });
  }
}
