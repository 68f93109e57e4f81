import { constants as fsc, fstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { invalid, isNodeError } from '../util/errors.js';
import { closeQuietly, fdPath, O_PATH, openInRoot, openRootDir } from '../util/in-root.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** /etc/passwd and /etc/group larger than this are refused (glibc reads them line by line; Berth whole). */
export const ETC_FILE_LIMIT = 4 << 20;

/**
 * An image's /etc/passwd or /etc/group, which the image's author controls: opened inside the root
 * with O_PATH|O_NOFOLLOW (nothing is read and nothing can block: a FIFO or a device is never opened
 * for reading), refused unless it is a regular file within ETC_FILE_LIMIT, then read through that
 * descriptor. A missing file is an empty one, as Docker takes it.
 */
export async function readEtcFile(rootfs: string, file: 'passwd' | 'group'): Promise<string | undefined> {
  let rootFd: number;
  try {
    rootFd = openRootDir(rootfs);
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  }
  let fd: number;
  try {
    fd = openInRoot(rootFd, `/etc/${file}`, { flags: O_PATH(), final: 'nofollow' });
  } catch (e) {
    if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) return undefined;
    throw e;
  } finally {
    closeQuietly(rootFd);
  }
  try {
    const st = fstatSync(fd);
    const kind = st.isSymbolicLink() ? 'a symlink' : st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isFile() ? undefined : 'a device or socket';
    if (kind) throw invalid(`user: /etc/${file} in the image is ${kind}, not a regular file`);
    if (st.size > ETC_FILE_LIMIT) throw invalid(`user: /etc/${file} in the image is ${st.size} bytes, over the ${ETC_FILE_LIMIT}-byte limit`);
    // the magic link is the regular file checked above; O_NONBLOCK in case anything else ever got there
    const fh = await open(fdPath(fd), fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(Math.min(st.size, ETC_FILE_LIMIT) + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      if (bytesRead > ETC_FILE_LIMIT) throw invalid(`user: /etc/${file} in the image grew past the ${ETC_FILE_LIMIT}-byte limit`);
      return buf.toString('utf8', 0, bytesRead);
    } finally {
      await fh.close();
    }
  } finally {
    closeQuietly(fd);
  }
}

async function readEtc(rootfs: string, file: 'passwd' | 'group'): Promise<string[][]> {
  const text = await readEtcFile(rootfs, file);
  return (text ?? '').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** Resolves Docker's `user[:group]` (names or numbers) against the container's /etc/passwd and /etc/group. */
export async function resolveUser(rootfs: string, spec: string | undefined): Promise<ResolvedUser> {
  const [userPart = '', groupPart] = (spec ?? '').split(':');
  const passwd = await readEtc(rootfs, 'passwd');
  const groups = await readEtc(rootfs, 'group');
  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  if (userPart === '') {
    const root = passwd.find((p) => p[2] === '0');
    name = root?.[0] ?? 'root';
    home = root?.[5] ?? '/root';
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p[2] === userPart);
    if (entry) {
      gid = Number(entry[3]);
      home = entry[5] ?? '/';
      name = entry[0];
    }
  } else {
    const entry = passwd.find((p) => p[0] === userPart);
    if (!entry) throw invalid(`user: unable to find user ${userPart}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] ?? '/';
    name = userPart;
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x[0] === groupPart);
      if (!g) throw invalid(`user: unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  const additionalGids = name
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(name as string)).map((g) => Number(g[2])).filter((g) => g !== gid)
    : [];
  return { uid, gid, additionalGids, home };
}
