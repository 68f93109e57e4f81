/** The Docker API front's version rules and hijacked-stream framing. */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RemoteCommand } from '../../../src/client/docker/remote-command.js';
import { checkVersion } from '../../../src/dockerapi/server.js';
import { bridge, frameHeader } from '../../../src/dockerapi/streams.js';

describe('API versions', () => {
  it('serves 1.41 to 1.50 and unversioned paths; refuses others with docker\'s messages', () => {
    for (const v of [undefined, '1.41', '1.44', '1.50']) expect(() => checkVersion(v)).not.toThrow();
    expect(() => checkVersion('1.40')).toThrow('client version 1.40 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version');
    expect(() => checkVersion('1.51')).toThrow('client version 1.51 is too new. Maximum supported API version is 1.50');
    expect(() => checkVersion('2.0')).toThrow(/too new/);
  });
});

/** A remotecommand stream driven by the test. */
/** A client connection: what the server writes is collected, what the client sends is pushed. */
function fakeSocket() {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  return { socket, written };
}

function fakeStream() {
  const out: Array<(d: Buffer) => void> = [];
  const err: Array<(d: Buffer) => void> = [];
  const stdin: Buffer[] = [];
  let stdinClosed = false;
  let closed = false;
  let finish!: (code: number) => void;
  const rc: RemoteCommand = {
    onStdout: (cb) => out.push(cb),
    onStderr: (cb) => err.push(cb),
    stdin: (d) => stdin.push(d),
    closeStdin: () => (stdinClosed = true),
    resize: () => undefined,
    done: new Promise<number>((r) => (finish = r)),
    close: () => (closed = true),
    pause: () => undefined,
    resume: () => undefined,
  };
  return { rc, emitOut: (s: string) => out.forEach((f) => f(Buffer.from(s))), emitErr: (s: string) => err.forEach((f) => f(Buffer.from(s))), stdin, stdinClosed: () => stdinClosed, closed: () => closed, finish: (c: number) => finish(c) };
}

describe('hijacked streams', () => {
  it('multiplexes output in 8-byte-header frames without a tty, passes input and its half-close on, and ends with the process', async () => {
    const f = fakeStream();
    const { socket, written } = fakeSocket();
    const done = bridge(socket, f.rc, { tty: false, stdin: true, stdout: true, stderr: true });
    f.emitOut('out');
    f.emitErr('err!');
    socket.push('typed');
    socket.push(null);
    await new Promise((r) => setImmediate(r));
    f.finish(3);
    expect(await done).toBe(3);
    expect(Buffer.concat(written)).toEqual(Buffer.concat([frameHeader(1, 3), Buffer.from('out'), frameHeader(2, 4), Buffer.from('err!')]));
    expect(Buffer.concat(f.stdin).toString()).toBe('typed');
    expect(f.stdinClosed()).toBe(true);
    expect(frameHeader(2, 258)).toEqual(Buffer.from([2, 0, 0, 0, 0, 0, 1, 2]));
  });

  it('passes output raw with a tty, and a client going away detaches', async () => {
    const f = fakeStream();
    const { socket, written } = fakeSocket();
    const done = bridge(socket, f.rc, { tty: true, stdin: false, stdout: true, stderr: false });
    f.emitOut('raw\r\n');
    await new Promise((r) => setImmediate(r));
    socket.destroy();
    expect(await done).toBeUndefined();
    expect(f.closed()).toBe(true);
    expect(Buffer.concat(written).toString()).toBe('raw\r\n');
  });
});
