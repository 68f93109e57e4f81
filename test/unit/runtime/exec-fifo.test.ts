import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { releaseExecFifo } from '../../../src/runtime/containers/exec-fifo.js';

// runc init's side of the exec fifo, played by a shell: open for writing (blocks until read), write one byte
describe('releaseExecFifo (runc start without runc)', () => {
  let dir: string;
  let fifo: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fifo-'));
    fifo = join(dir, 'exec.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the start byte, waits for the writer to close and removes the fifo', async () => {
    const init = spawn('sh', ['-c', `printf 0 > ${fifo}; echo started`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    init.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => init.on('close', r));
    await releaseExecFifo(fifo, init.pid!);
    expect(existsSync(fifo)).toBe(false);
    await exited;
    expect(out).toBe('started\n');
  });

  it('fails, instead of blocking forever, when init died before it opened the fifo', async () => {
    const init = spawn('sh', ['-c', 'exit 1'], { stdio: 'ignore' });
    await new Promise((r) => init.on('close', r));
    await expect(releaseExecFifo(fifo, init.pid!)).rejects.toThrow(/exited before it could start/);
  });

  it('fails when init closed the fifo without writing the start byte', async () => {
    const init = spawn('sh', ['-c', `: > ${fifo}; sleep 0.2`], { stdio: 'ignore' });
    await expect(releaseExecFifo(fifo, init.pid!)).rejects.toThrow(/exited before it could start/);
    await new Promise((r) => init.on('close', r));
  });
});
