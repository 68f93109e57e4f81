import type { Request, Response } from 'express';
import { regError } from './errors.js';
import { registryBytesReceived, registryBytesSent, registryUploadDuration } from './metrics.js';
import { validateDigest } from './names.js';
import { sendFileRange } from './send-file.js';
import type { RegistryStorage, UploadState } from './storage.js';

function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return undefined;
  return { start, end };
}

export async function getBlob(storage: RegistryStorage, name: string, digest: string, req: Request, res: Response): Promise<void> {
  validateDigest(digest);
  const size = await storage.blobSize(name, digest);
  if (size === undefined) throw regError('BLOB_UNKNOWN', `blob ${digest} is unknown to repository ${name}`, { digest });
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('ETag', `"${digest}"`);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Cache-Control', 'max-age=31536000');
  const rangeHeader = req.headers.range;
  let range: { start: number; end: number } | undefined;
  if (rangeHeader) {
    range = parseRange(rangeHeader, size);
    if (!range) {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw regError('RANGE_INVALID', `range "${rangeHeader}" is not satisfiable for ${size} bytes`, undefined, 416);
    }
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
    res.status(206);
  } else {
    res.setHeader('Content-Length', String(size));
    res.status(200);
  }
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  try {
    await sendFileRange(storage.blobPath(digest), range?.start ?? 0, range?.end ?? size - 1, res, (n) => registryBytesSent.inc(n));
    res.end();
  } catch (e) {
    if (!res.headersSent) throw e;
    // all that is left is to cut the connection (the client sees a short body)
    res.destroy();
  }
}

export async function deleteBlob(storage: RegistryStorage, name: string, digest: string, res: Response): Promise<void> {
  validateDigest(digest);
  if (!(await storage.unlinkBlob(name, digest))) throw regError('BLOB_UNKNOWN', `blob ${digest} is unknown to repository ${name}`, { digest });
  res.setHeader('Content-Length', '0');
  res.status(202).end();
}

const rangeOf = (size: number): string => `0-${size > 0 ? size - 1 : 0}`;

function uploadHeaders(res: Response, s: UploadState): void {
  res.setHeader('Location', `/v2/${s.name}/blobs/uploads/${s.uuid}`);
  res.setHeader('Range', rangeOf(s.size));
  res.setHeader('Docker-Upload-UUID', s.uuid);
  res.setHeader('Content-Length', '0');
}

function contentLength(req: Request): number | undefined {
  const v = req.headers['content-length'];
  return v === undefined ? undefined : Number(v);
}

function hasBody(req: Request): boolean {
  const n = contentLength(req);
  return (n !== undefined && n > 0) || req.headers['transfer-encoding'] !== undefined;
}

const onBytes = (n: number): void => {
  registryBytesReceived.inc(n);
};

async function finish(storage: RegistryStorage, s: UploadState, digest: string, res: Response): Promise<void> {
  const done = await storage.completeUpload(s.name, s.uuid, digest);
  if (s.startedAt) registryUploadDuration.observe((Date.now() - Date.parse(s.startedAt)) / 1000);
  res.setHeader('Location', `/v2/${s.name}/blobs/${done.digest}`);
  res.setHeader('Docker-Content-Digest', done.digest);
  res.setHeader('Content-Length', '0');
  res.status(201).end();
}

/** POST /v2/<name>/blobs/uploads/: a mount, a one-request monolithic upload (?digest=), or a new session. */
export async function startUpload(storage: RegistryStorage, name: string, req: Request, res: Response, canMountFrom: (from: string) => Promise<boolean>): Promise<void> {
  const q = req.query as Record<string, string | undefined>;
  if (q.mount !== undefined) {
    const digest = validateDigest(q.mount, 'mount');
    if (q.from && (await canMountFrom(q.from)) && (await storage.mount(name, q.from, digest).catch(() => false))) {
      res.setHeader('Location', `/v2/${name}/blobs/${digest}`);
      res.setHeader('Docker-Content-Digest', digest);
      res.setHeader('Content-Length', '0');
      res.status(201).end();
      return;
    }
  }
  const s = await storage.startUpload(name);
  if (q.digest !== undefined) {
    const digest = validateDigest(q.digest);
    try {
      await storage.appendUpload(name, s.uuid, req, { length: contentLength(req), onBytes });
    } catch (e) {
      await storage.cancelUpload(name, s.uuid).catch(() => undefined);
      throw e;
    }
    await finish(storage, s, digest, res);
    return;
  }
  uploadHeaders(res, s);
  res.status(202).end();
}

function chunkStart(req: Request): number | undefined {
  const cr = req.headers['content-range'];
  if (!cr) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(cr.trim());
  if (!m) throw regError('BLOB_UPLOAD_INVALID', `Content-Range "${cr}" is not start-end`, undefined, 416);
  return Number(m[1]);
}

export async function patchUpload(storage: RegistryStorage, name: string, uuid: string, req: Request, res: Response): Promise<void> {
  let s: UploadState;
  try {
    s = await storage.appendUpload(name, uuid, req, { start: chunkStart(req), length: contentLength(req), onBytes });
  } catch (e) {
    if ((e as { status?: number }).status === 416) {
      const cur = await storage.uploadState(name, uuid);
      uploadHeaders(res, cur);
    }
    throw e;
  }
  uploadHeaders(res, s);
  res.status(202).end();
}

export async function putUpload(storage: RegistryStorage, name: string, uuid: string, req: Request, res: Response): Promise<void> {
  const q = req.query as Record<string, string | undefined>;
  let s = await storage.uploadState(name, uuid);
  const digest = validateDigest(q.digest, 'digest');
  if (hasBody(req)) {
    try {
      s = await storage.appendUpload(name, uuid, req, { start: chunkStart(req), length: contentLength(req), onBytes });
    } catch (e) {
      // a final chunk that breaks off ends the upload: nothing of it is stored
      await storage.cancelUpload(name, uuid).catch(() => undefined);
      throw e;
    }
  }
  await finish(storage, s, digest, res);
}

export async function getUpload(storage: RegistryStorage, name: string, uuid: string, res: Response): Promise<void> {
  const s = await storage.uploadState(name, uuid);
  uploadHeaders(res, s);
  res.status(204).end();
}

export async function deleteUpload(storage: RegistryStorage, name: string, uuid: string, res: Response): Promise<void> {
  await storage.cancelUpload(name, uuid);
  res.setHeader('Content-Length', '0');
  res.status(204).end();
}
