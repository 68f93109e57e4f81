import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Builder, type BuildEvent, type BuildInput, type BuildResult } from '../../../src/runtime/build/builder.js';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, makeTempRoot, mountsUnder, removeRuntimeTestRoot } from '../runtime/helpers.js';

export { runtimeSkipReason as buildSkipReason } from '../runtime/helpers.js';

export interface BuildEnv {
  root: string;
  rt: Runtime;
  builder: Builder;
  cgroupParent: string;
  /** Builds with the events collected. */
  build(input: Omit<BuildInput, 'contextDir'> & { contextDir?: string }): Promise<BuildResult & { events: BuildEvent[] }>;
  /** A fresh context directory with these files. */
  context(files: Record<string, string>): Promise<string>;
  /** Runs a container of the image to completion: exit code, stdout lines, and the argv the runtime gave it. */
  run(image: string, opts?: { command?: string[] }): Promise<{ exitCode: number; stdout: string[]; argv: string[] }>;
  /** Path of a file in the image's top layer that has it. */
  layerFile(image: string, path: string): Promise<string | undefined>;
  cleanup(): Promise<void>;
}

/** A runtime root with `busybox` imported (plus scripts that echo their arguments, for the ENTRYPOINT/CMD table). */
export async function setupBuildEnv(name: string): Promise<BuildEnv> {
  const root = await makeTempRoot(`build-${name}`);
  const cgroupParent = `berth-test-build-${name}-${process.pid}`;
  const rt = new Runtime({ root, cgroupParent });
  const tar = await busyboxTarball(root, async (r) => {
    await mkdir(join(r, 'usr', 'bin'), { recursive: true });
    for (const s of ['exec_entry', 'exec_cmd']) await writeFile(join(r, 'usr', 'bin', s), `#!/bin/sh\necho "${s} $*"\n`, { mode: 0o755 });
  });
  await rt.importImage(tar, { ref: 'busybox', changes: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] } });
  await rm(tar, { force: true });
  const builder = new Builder(rt);
  let n = 0;
  const env: BuildEnv = {
    root,
    rt,
    builder,
    cgroupParent,
    async context(files) {
      const dir = join(root, `ctx-${n++}`);
      await mkdir(dir, { recursive: true });
      for (const [p, content] of Object.entries(files)) {
        await mkdir(join(dir, p, '..'), { recursive: true });
        await writeFile(join(dir, p), content);
      }
      return dir;
    },
    async build(input) {
      const events: BuildEvent[] = [];
      const contextDir = input.contextDir ?? (await env.context({}));
      const r = await builder.build({ ...input, contextDir }, { onEvent: (e) => events.push(e) });
      return { ...r, events };
    },
    async run(image, opts = {}) {
      const c = await rt.containers.create({ image, ...(opts.command ? { command: opts.command } : {}) });
      try {
        await rt.tasks.start(c.id);
        const exitCode = await rt.tasks.wait(c.id);
        const stdout: string[] = [];
        for await (const l of rt.tasks.logs(c.id, { stderr: false })) stdout.push(l.line);
        return { exitCode, stdout, argv: [c.path, ...c.args] };
      } finally {
        await rt.containers.remove(c.id, { force: true, volumes: true });
      }
    },
    async layerFile(image, path) {
      const cfg = await rt.images.config(image);
      const { pathExists } = await import('../../../src/runtime/util/fs.js');
      for (const d of [...cfg.rootfs.diff_ids].reverse()) {
        const p = join(rt.snapshots.layerDir(d), path);
        if (await pathExists(p)) return p;
      }
      return undefined;
    },
    async cleanup() {
      await removeRuntimeTestRoot(rt, root, cgroupParent);
    },
  };
  return env;
}

/** Everything a failed build could leave behind: containers, mounts, active snapshots, temp dirs. */
export async function leftovers(env: BuildEnv): Promise<{ containers: number; mounts: string[]; active: string[]; tmp: string[] }> {
  const tmp = [
    ...(await readdir(join(env.root, 'tmp')).catch(() => [] as string[])),
    ...(await readdir(join(env.root, 'snapshots', 'tmp')).catch(() => [] as string[])),
    ...(await readdir(join(env.root, 'content', 'ingest')).catch(() => [] as string[])),
  ];
  return {
    containers: (await env.rt.containers.list({ all: true })).length,
    mounts: mountsUnder(env.root),
    active: await env.rt.snapshots.listActive(),
    tmp,
  };
}

export const stepCount = (events: readonly BuildEvent[], type: BuildEvent['type']): number => events.filter((e) => e.type === type).length;
