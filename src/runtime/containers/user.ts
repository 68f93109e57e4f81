import { readFile } from 'node:fs/promises';
import { resolveInRoot } from '../snapshots/safe-path.js';
import { invalid } from '../util/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

async function readEtc(rootfs: string, file: string): Promise<string[][]> {
  try {
    const text = await readFile(await resolveInRoot(rootfs, `/etc/${file}`), 'utf8');
    return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
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
