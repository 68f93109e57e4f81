import { readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { signalContainer, signalNumber } from '../../../src/runtime/containers/signals.js';
import type { Runc } from '../../../src/runtime/containers/runc.js';
import { runCommand } from '../../../src/runtime/util/exec.js';
import { syscalls } from '../../../src/runtime/util/syscalls.js';

const read = (fd: number): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    const s = new Socket({ fd, readable: true, writable: false });
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('close', () => resolve(text));
  });

async function reaped(pid: number): Promise<number> {
  for (;;) {
    const st = syscalls()!.reapStatus(pid);
    if (st) return st.code ?? 128 + (st.signal ?? 0);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('berth-syscalls addon (native/syscalls)', () => {
  it('is built by scripts/setup, so the runtime takes the fast paths', () => {
    expect(syscalls()).toBeDefined();
  });

  // `cat` ends at once only because stdin is /dev/null
  it('spawnDetached: own session, stdin from /dev/null, stderr and fd 3 piped, default signals; reap returns the exit code', async () => {
    const sys = syscalls()!;
    const script = 'echo to-err >&2; cat; echo "sid=$(cut -d" " -f6 /proc/$$/stat) pid=$$" >&3; trap - PIPE; exit 7';
    const r = sys.spawnDetached('sh', ['sh', '-c', script], ['PATH=/usr/bin:/bin'], '/');
    const [err, sync, code] = await Promise.all([read(r.stderrFd), read(r.syncFd), reaped(r.pid)]);
    expect(code).toBe(7);
    expect(err).toBe('to-err\n');
    // a session leader: its session id is its own pid
    expect(sync.trim()).toBe(`sid=${r.pid} pid=${r.pid}`);
    expect(() => readFileSync(`/proc/${r.pid}/stat`)).toThrow(); // reaped: no zombie left
  });

  it('spawnDetached reports a missing program as ENOENT, and leaks no pipe', () => {
    const before = new Set(readdirSync('/proc/self/fd'));
    expect(() => syscalls()!.spawnDetached('/no/such/program', ['x'], [], '/')).toThrow(expect.objectContaining({ errno: 2 }));
    const after = new Set(readdirSync('/proc/self/fd'));
    expect([...after].filter((f) => !before.has(f))).toEqual([]);
  });

  it('spawnPiped + reapStatus: stdin, stdout and stderr on pipes, the exit code or the signal, nothing left open', async () => {
    const sys = syscalls()!;
    const before = new Set(readdirSync('/proc/self/fd'));
    const r = sys.spawnPiped('sh', ['sh', '-c', 'read line; echo "got $line"; echo oops >&2; exit 4'], ['PATH=/usr/bin:/bin'], '');
    const stdin = new Socket({ fd: r.stdinFd, readable: false, writable: true });
    stdin.end('hello\n');
    const [out, err] = await Promise.all([read(r.stdoutFd), read(r.stderrFd)]);
    let st = sys.reapStatus(r.pid);
    for (let i = 0; st === null && i < 400; i++) {
      await new Promise((res) => setTimeout(res, 5));
      st = sys.reapStatus(r.pid);
    }
    expect({ out, err, st }).toEqual({ out: 'got hello\n', err: 'oops\n', st: { code: 4, signal: null } });
    await new Promise((res) => setTimeout(res, 20)); // the sockets' fds close asynchronously
    expect([...new Set(readdirSync('/proc/self/fd'))].filter((f) => !before.has(f))).toEqual([]);
    expect(() => sys.spawnPiped('/no/such/program', ['x'], [], '')).toThrow(expect.objectContaining({ errno: 2 }));
  });

  it('runCommand (through spawnPiped): output, exit code, signal, input, cwd, env, large output, ENOENT', async () => {
    expect(await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(await runCommand('sh', ['-c', 'kill -TERM $$'])).toMatchObject({ code: -1, signal: 'SIGTERM' });
    expect((await runCommand('cat', [], { input: 'typed' })).stdout).toBe('typed');
    expect((await runCommand('pwd', [], { cwd: '/tmp' })).stdout).toBe('/tmp\n');
    expect((await runCommand('sh', ['-c', 'echo $ONLY'], { env: { ONLY: 'this', PATH: '/usr/bin:/bin' } })).stdout).toBe('this\n');
    expect((await runCommand('head', ['-c', '3000000', '/dev/zero'])).stdout.length).toBe(3_000_000);
    await expect(runCommand('no-such-program-here', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('signalChild signals only a live child of the given parent: sent, other, gone', async () => {
    const sys = syscalls()!;
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, sig) => res(sig)));
    const pid = child.pid!;
    // not its parent: refused, and the process lives on
    expect(sys.signalChild!(pid, 1, 15)).toBe('other');
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toContain('(sleep)');
    expect(sys.signalChild!(pid, process.pid, 15)).toBe('sent');
    expect(await exited).toBe('SIGTERM');
    expect(sys.signalChild!(pid, process.pid, 15)).toBe('gone');
    expect(() => sys.signalChild!(0, 1, 9)).toThrow(TypeError);
  });

  it('signalContainer: straight to a child of its conmon by number; runc for what it cannot do itself', async () => {
    expect([signalNumber('KILL'), signalNumber('SIGTERM'), signalNumber('hup'), signalNumber('9'), signalNumber('RTMIN+3'), signalNumber('99')]).toEqual([9, 15, 1, 9, undefined, undefined]);
    const calls: string[][] = [];
    const runc = { kill: async (id: string, sig: string, all = false) => void calls.push([id, sig, String(all)]) } as unknown as Runc;
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, sig) => res(sig)));
    const state = { status: 'running' as const, pid: child.pid!, conmonPid: process.pid, oomKilled: false, restartCount: 0 };
    // SIGTERM to all processes is runc's (kill --all); the same to the init alone is sent directly
    expect(await signalContainer(runc, 'c1', state, 'TERM', true)).toBe(true);
    expect(calls).toEqual([['c1', 'TERM', 'true']]);
    expect(await signalContainer(runc, 'c1', state, 'KILL', true)).toBe(true);
    expect(await exited).toBe('SIGKILL');
    expect(calls).toHaveLength(1);
    expect(await signalContainer(runc, 'c1', state, 'KILL')).toBe(false); // ended: runc is not asked
    // a recorded pid that is not the conmon's child (a stale state file): runc decides
    expect(await signalContainer(runc, 'c1', { ...state, pid: process.pid, conmonPid: 1 }, 'KILL')).toBe(true);
    expect(calls).toEqual([['c1', 'TERM', 'true'], ['c1', 'KILL', 'false']]);
  });
});
