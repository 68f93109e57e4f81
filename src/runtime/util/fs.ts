import type { Stats } from 'node:fs';
import { lstat, open, readFile, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile, writeFileAtomic } from '../../util/atomic-write.js';
import { isNodeError } from './errors.js';

export { writeFileAtomic as atomicWriteFile, syncDir } from '../../util/atomic-write.js';

export async function atomicWriteJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** atomicWriteJson without fsync (see replaceFile). */
export async function replaceJson(path: string, value: unknown): Promise<void> {
  await replaceFile(path, JSON.stringify(value, null, 2) + '\n');
}

export async function readJsonIfExists(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** lstat, or undefined when nothing is there (other errors still throw). */
export async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
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

/** Reads until `buf` is full or the file ends (a read may return less than asked). */
async function readFull(fh: FileHandle, buf: Buffer): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}

/** Whether two files hold the same bytes (read side by side, stopping at the first difference). */
export async function sameFileContent(a: string, b: string): Promise<boolean> {
  const fa = await open(a, 'r');
  try {
    const fb = await open(b, 'r');
    try {
      if ((await fa.stat()).size !== (await fb.stat()).size) return false;
      const ba = Buffer.alloc(1 << 16);
      const bb = Buffer.alloc(1 << 16);
      for (;;) {
        const [na, nb] = await Promise.all([readFull(fa, ba), readFull(fb, bb)]);
        if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
        if (na < ba.length) return true;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}
