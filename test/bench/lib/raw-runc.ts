/**
 * Baselines without Berth: `runc run -d` on a prepared overlay bundle, and conmon + runc create +
 * runc start on one. Programs run from here are timed to their exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchConmon } from '../../../src/runtime/containers/conmon.js';

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export function run(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Time to run a program to exit. stdout/stderr go to a file: `runc run -d` without a terminal hands its
 * stdio to the container, so a pipe would stay open as long as the container runs.
 */
export function timedSpawn(cmd: string, args: string[], errFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = openSync(errFile, 'a');
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.on('error', reject);
    child.on('exit', (code) => {
      const t = ms(t0);
      if (code === 0) resolve(t);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${readFileSync(errFile, 'utf8').trim()}`));
    });
  });
}

export class RawRunc {
  readonly root: string;
  readonly ids: string[] = [];
  private template?: Record<string, unknown>;

  constructor(
    private readonly work: string,
    private readonly lowerdir: string,
    /** Parent cgroup of the containers (cgroupsPath /<parent>/<id>). */
    private readonly cgroupParent: string,
  ) {
    this.root = join(work, 'runc-state');
  }

  /** config.json from `runc spec`, adjusted: `sleep 3600` without a terminal, nofile 1024:1024, writable rootfs. */
  private async spec(id: string, rootfs: string): Promise<Record<string, unknown>> {
    if (!this.template) {
      const dir = join(this.work, 'spec-template');
      await mkdir(dir, { recursive: true });
      const r = run('runc', ['spec', '--bundle', dir]);
      if (r.code !== 0) throw new Error(`runc spec failed: ${r.stderr}`);
      this.template = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    }
    const s = structuredClone(this.template) as {
      process: { terminal: boolean; args: string[]; rlimits: Array<{ type: string; hard: number; soft: number }> };
      root: { path: string; readonly: boolean };
      hostname: string;
      linux: { cgroupsPath?: string };
    };
    s.process.terminal = false;
    s.process.args = ['sleep', '3600'];
    s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];
    s.root = { path: rootfs, readonly: false };
    s.hostname = id.slice(0, 12);
    s.linux.cgroupsPath = `/${this.cgroupParent}/${id}`;
    return s as unknown as Record<string, unknown>;
  }

  /** Overlay rootfs + config.json for one container (the work berth's create does on its side). */
  async prepare(id: string): Promise<string> {
    const bundle = join(this.work, 'bundles', id);
    for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(bundle, d), { recursive: true });
    const r = run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${this.lowerdir},upperdir=${join(bundle, 'upper')},workdir=${join(bundle, 'work')}`, join(bundle, 'rootfs')]);
    if (r.code !== 0) throw new Error(`overlay mount failed: ${r.stderr}`);
    await writeFile(join(bundle, 'config.json'), JSON.stringify(await this.spec(id, join(bundle, 'rootfs'))));
    return bundle;
  }

  /** `runc run -d`: returns once the container process runs. */
  async runDetached(id: string, bundle: string): Promise<number> {
    this.ids.push(id);
    return timedSpawn('runc', ['--root', this.root, 'run', '-d', '--bundle', bundle, id], join(bundle, 'runc.log'));
  }

  /** What berth's start does underneath, without berth: conmon (which runs `runc create`), then `runc start`. */
  async conmonCreateStart(id: string, bundle: string): Promise<number> {
    this.ids.push(id);
    const exitDir = join(bundle, 'exits');
    await mkdir(exitDir, { recursive: true });
    const t0 = process.hrtime.bigint();
    await launchConmon({
      id, bundle, runcRoot: this.root, runtime: '/usr/sbin/runc', logPath: join(bundle, 'ctr.log'), logSizeMax: 10 << 20, exitDir, socketDir: bundle,
      conmonPidFile: join(bundle, 'conmon.pid'), containerPidFile: join(bundle, 'init.pid'),
    });
    await timedSpawn('runc', ['--root', this.root, 'start', id], join(bundle, 'runc.log'));
    return ms(t0);
  }

  running(id: string): boolean {
    const r = run('runc', ['--root', this.root, 'state', id]);
    return r.code === 0 && (JSON.parse(r.stdout) as { status: string }).status === 'running';
  }

  cleanup(): void {
    const listed = run('runc', ['--root', this.root, 'list', '-q']).stdout.split('\n').filter(Boolean);
    for (const id of new Set([...this.ids, ...listed])) {
      run('runc', ['--root', this.root, 'kill', id, 'KILL']);
      run('runc', ['--root', this.root, 'delete', '--force', id]);
    }
  }
}
