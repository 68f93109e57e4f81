import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { isNodeError, unsafe } from '../util/errors.js';

/** Splits an archive path into components, rejecting absolute paths and "..". */
export function archivePathParts(name: string, what = 'entry'): string[] {
  if (name.startsWith('/')) throw unsafe(`${what} "${name}": absolute path escapes the root`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(`${what} "${name}": ".." escapes the root`);
  if (name.includes('\0')) throw unsafe(`${what} "${name}": NUL in path`);
  return parts;
}

/** Does a symlink at `linkParts` with `target` stay inside the root when resolved lexically? */
export function symlinkStaysInside(linkParts: readonly string[], target: string): boolean {
  if (target.startsWith('/')) return true; // absolute targets resolve against the container root
  let depth = linkParts.length - 1;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      depth -= 1;
      if (depth < 0) return false;
    } else depth += 1;
  }
  return true;
}

/**
 * Checks that no existing component of `parts` (below root) is a symlink, so that
 * writing at root/parts cannot be redirected elsewhere. Returns the joined path.
 */
export async function assertNoSymlinkInPath(root: string, parts: readonly string[], what: string): Promise<string> {
  let cur = root;
  for (let i = 0; i < parts.length; i++) {
    cur = posix.join(cur, parts[i] as string);
    try {
      const st = await lstat(cur);
      if (st.isSymbolicLink()) throw unsafe(`${what}: path component "${parts.slice(0, i + 1).join('/')}" is a symlink (would escape the layer)`);
      if (!st.isDirectory() && i < parts.length - 1) throw unsafe(`${what}: "${parts.slice(0, i + 1).join('/')}" is not a directory`);
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return posix.join(root, ...parts);
      throw e;
    }
  }
  return cur;
}

/**
 * Resolves a path inside a container root the way the container would see it: symlinks are
 * followed but interpreted relative to `root`, so the result never leaves it (like securejoin).
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const todo = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = posix.join(root, ...done, part);
    let st;
    try {
      st = await lstat(candidate);
    } catch (e) {
      if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) {
        // nothing exists from here on, so no more links: finish lexically, still clamped at the root
        for (const rest of [part, ...todo]) {
          if (rest === '..') done.pop();
          else done.push(rest);
        }
        return posix.join(root, ...done);
      }
      throw e;
    }
    if (st.isSymbolicLink()) {
      if (++links > 255) throw unsafe(`path "${path}": too many levels of symbolic links`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}
