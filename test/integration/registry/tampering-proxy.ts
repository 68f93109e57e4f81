/** An HTTP proxy in front of a registry that tampers with blob downloads, for tests of pull errors and resumes. */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TamperingOptions {
  /** Flip the lowest bit of the byte at this offset of a layer blob (more than 10,000 bytes, so not a config) fetched without Range. */
  flipAt?: number;
  /** Invert every byte of every blob body. */
  corrupt?: boolean;
  /** Cut every blob GET that has no Range after this many bytes (the client sees a broken connection). */
  cutAfter?: number;
  /** Drop the Range header of blob GETs before forwarding, like a registry that ignores it. */
  ignoreRange?: boolean;
}

export interface TamperingProxy {
  server: Server;
  /** host:port to pull through. */
  host: string;
  /** How many transfers were cut. */
  readonly cuts: number;
  /** The Range headers of blob GETs, in the order they came. */
  readonly ranges: string[];
}

const LAYER_MIN = 10_000;

/** Forwards everything to the registry at `target`, tampering with blob GETs as `o` says. */
export function tamperingProxy(target: string, o: TamperingOptions): Promise<TamperingProxy> {
  const t = new URL(target);
  const state = { cuts: 0, ranges: [] as string[] };
  const server = createServer((req, res) => {
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    const asked = req.headers.range;
    if (isBlob && asked) state.ranges.push(asked);
    const headers = { ...req.headers };
    if (isBlob && o.ignoreRange) delete headers.range;
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const layer = Number(ur.headers['content-length']) > LAYER_MIN;
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        let c = chunk;
        if (isBlob && o.corrupt) c = Buffer.from(c.map((b) => b ^ 0xff));
        if (isBlob && layer && o.flipAt !== undefined && !asked && o.flipAt >= sent && o.flipAt < sent + c.length) {
          c = Buffer.from(c);
          c[o.flipAt - sent] = (c[o.flipAt - sent] as number) ^ 0x01;
        }
        if (isBlob && o.cutAfter !== undefined && !asked && sent + c.length > o.cutAfter) {
          res.write(c.subarray(0, o.cutAfter - sent));
          state.cuts++;
          ur.destroy();
          res.destroy();
          return;
        }
        sent += c.length;
        res.write(c);
      });
      ur.on('end', () => res.end());
      // the client may hang up mid-body (a cut, or a pull that drops a body it did not ask for)
      ur.on('error', () => res.destroy());
      res.on('close', () => ur.destroy());
    });
    res.on('error', () => undefined);
    req.on('error', () => up.destroy());
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        get cuts() {
          return state.cuts;
        },
        ranges: state.ranges,
      }),
    ),
  );
}
