export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'dir' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Path inside the archive, without a leading "./". Directories have no trailing slash. */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Strips "./" and trailing slashes so "./a/b/" and "a/b" name the same entry. */
export function normaliseTarName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n === '.' ? '' : n;
}
