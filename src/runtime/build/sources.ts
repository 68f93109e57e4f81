import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { resolveInRoot } from '../snapshots/safe-path.js';
import { pathExists } from '../util/fs.js';
import { globToRegex } from '../../util/dockerignore.js';
import { InstructionError } from './instructions.js';
import { expandWord } from './words.js';

/** Expands variables in a heredoc body (unquoted delimiter), keeping quotes as they are. */
export function expandHeredoc(content: string, vars: Map<string, string>, escape: string): string {
  return content.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, (m) => expandWord(m, vars, escape));
}

export async function isDirInRoot(rootfs: string, path: string): Promise<boolean> {
  try {
    return (await stat(await resolveInRoot(rootfs, path))).isDirectory();
  } catch {
    return false;
  }
}

/** COPY --from sources: a path inside the other root (symlinks resolved inside it), or a glob in its last component. */
export async function matchInRoot(root: string, src: string): Promise<string[]> {
  const abs = posix.resolve('/', src);
  const base = posix.basename(abs);
  if (/[*?[]/.test(base)) {
    const dir = await resolveInRoot(root, posix.dirname(abs));
    const re = globToRegex(base);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => re.test(n)).sort();
    if (names.length === 0) throw new InstructionError(`"${src}": no source files match`);
    return names.map((n) => posix.relative(root, join(dir, n)));
  }
  const resolved = await resolveInRoot(root, abs);
  if (!(await pathExists(resolved))) throw new InstructionError(`"${src}": not found in the source stage or image`);
  return [posix.relative(root, resolved)];
}

/** ADD <url>: downloads to `dir`, named after the URL's last path component. */
export async function fetchUrl(url: string, dir: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new InstructionError(`cannot fetch ${url}: ${cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))} (the URL could not be reached)`);
  }
  if (!res.ok) throw new InstructionError(`cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`);
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'index.html';
  const body = Buffer.from(await res.arrayBuffer());
  await writeFile(join(dir, name), body, { mode: 0o600 });
  const lm = res.headers.get('last-modified');
  if (lm && Number.isFinite(Date.parse(lm))) await utimes(join(dir, name), Date.parse(lm) / 1000, Date.parse(lm) / 1000);
  return name;
}
