import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isNodeError } from './errors.js';

/** Writes a file so that readers see either the old or the new content, even across a crash. */
export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

export async function atomicWriteJson(path: string, value: unknown): Promise<void> {
  await atomicWriteFile(path, JSON.stringify(value, null, 2) + '\n');
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readJsonIfExists(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) return false;
    throw e;
  }
}

export async function readDirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return [];
    throw e;
  }
}

export async function removeAll(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Bytes used on disk by a tree (file sizes, hardlinks counted once). `seen` lets callers share inodes across trees. */
export async function treeSize(root: string, seen: Set<string> = new Set()): Promise<number> {
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p);
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return;
      throw e;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (st.isFile() || st.isSymbolicLink()) total += st.size;
    if (st.isDirectory()) {
      for (const name of await readDirOrEmpty(p)) await walk(join(p, name));
    }
  };
  await walk(root);
  return total;
}
