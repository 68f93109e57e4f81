import { readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
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
    const code = syscalls()!.reap(pid);
    if (code >= 0) return code;
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
});
