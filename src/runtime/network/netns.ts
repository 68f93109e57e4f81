/**
 * Network namespaces as files: each container's namespace is a new empty network namespace
 * bind-mounted on <root>/netns/<id> (what `ip netns add` does under /run/netns), so that it outlives
 * the processes in it, runc can join it by path (the OCI spec's namespace path) and the CNI plugins
 * can enter it. Removing the file's mount frees the namespace once no process is left in it; its
 * veth then disappears, asynchronously, with it.
 */
import { statfs, writeFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { failed } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { readDirOrEmpty } from '../util/fs.js';

const NSFS_MAGIC = 0x6e736673;

export class NetnsStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'netns');
  }

  path(id: string): string {
    return join(this.dir, id);
  }

  /** Whether a namespace is mounted at this path (a file of nsfs, not the empty placeholder). */
  async isNamespace(path: string): Promise<boolean> {
    try {
      return (await statfs(path)).type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  /** Makes (or keeps) the namespace of `id`; returns its path. */
  async create(id: string): Promise<string> {
    const path = this.path(id);
    if (await this.isNamespace(path)) return path;
    await mkdir(this.dir, { recursive: true });
    await writeFile(path, '', { mode: 0o444 });
    // unshare(1) makes the namespace and bind-mounts it on the file before its child (true) runs
    const r = await runCommand('unshare', [`--net=${path}`, 'true']);
    if (r.code !== 0) {
      await rm(path, { force: true });
      throw failed(`creating the network namespace ${path}: ${r.stderr.trim() || `unshare exited ${r.code}`}`);
    }
    return path;
  }

  /** Unmounts and removes the namespace file of `id` (nothing there: nothing to do). */
  async remove(id: string): Promise<void> {
    const path = this.path(id);
    if (await this.isNamespace(path)) {
      const r = await runCommand('umount', [path]);
      if (r.code !== 0 && (await this.isNamespace(path))) throw failed(`unmounting the network namespace ${path}: ${r.stderr.trim()}`);
    }
    await rm(path, { force: true });
  }

  /** IDs of every namespace file (mounted or left as a placeholder). */
  async list(): Promise<string[]> {
    return readDirOrEmpty(this.dir);
  }
}
