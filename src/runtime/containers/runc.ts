import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked, runCommand } from '../util/exec.js';
import { releaseExecFifo } from './exec-fifo.js';

export interface RuncState {
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
}

/** Thin wrapper over the runc CLI with our own state root. */
export class Runc {
  constructor(
    readonly root: string,
    readonly binary = 'runc',
  ) {}

  private args(...rest: string[]): string[] {
    return ['--root', this.root, ...rest];
  }

  async state(id: string): Promise<RuncState | undefined> {
    const r = await runCommand(this.binary, this.args('state', id));
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as RuncState;
  }

  /**
   * What `runc start` does, without a second Go process (about 25 ms here): runc init waits to write
   * one byte into <root>/<id>/exec.fifo; reading it lets init exec the process, and removing the fifo
   * is what makes `runc state` say running. Needs the init pid to notice an init that died instead;
   * without it, or with a runc that keeps no fifo there, `runc start` itself.
   */
  async start(id: string, initPid?: number): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    if (initPid === undefined || !existsSync(fifo)) {
      await runChecked(this.binary, this.args('start', id));
      return;
    }
    await releaseExecFifo(fifo, initPid);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await runChecked(this.binary, this.args('kill', ...(all ? ['--all'] : []), id, signal));
  }

  async pause(id: string): Promise<void> {
    await runChecked(this.binary, this.args('pause', id));
  }

  async resume(id: string): Promise<void> {
    await runChecked(this.binary, this.args('resume', id));
  }

  async delete(id: string): Promise<void> {
    // runc keeps a container's state in <root>/<id>; without it there is nothing to delete (and no runc to
    // spawn). `delete --force` of a container runc does not know succeeds: no `runc state` first (a second Go process)
    if (!existsSync(join(this.root, id))) return;
    await runChecked(this.binary, this.args('delete', '--force', id));
  }

  /**
   * Arguments of `runc exec` with a process.json; runc writes the process's host pid to pidFile
   * once it runs, and its own errors as JSON lines on stderr.
   */
  execArgs(id: string, processJson: string, pidFile: string): string[] {
    return this.args('--log-format', 'json', 'exec', '--process', processJson, '--pid-file', pidFile, id);
  }
}
