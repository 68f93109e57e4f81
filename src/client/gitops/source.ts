/**
 * The git source of GitSync: one cached bare clone per repository URL, refs resolved with
 * `git ls-remote` (branch, tag, commit or a semver range over tags), shallow fetches of exactly the
 * resolved commit, and the files under a path read straight from the object store (`ls-tree`,
 * `cat-file --batch`): nothing is checked out, so a hostile tree (symlinks, `..`) never touches the
 * filesystem. Commands on one cache repository run one at a time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { GitCli, GitError, type GitCredentials } from './git.js';
import { highestTagIn, isSemverRange } from './semver.js';

export interface ResolvedRef {
  /** The commit id. */
  revision: string;
  /** Where it came from: refs/heads/main, refs/tags/v1.2.0, or the commit id itself. */
  ref: string;
}

export interface TreeFile {
  path: string;
  mode: string;
  oid: string;
  size: number;
}

export interface SourceLimits {
  /** Most files read from one revision (default 20,000). */
  maxFiles: number;
  /** Most bytes read from one revision (default 64 MiB). */
  maxBytes: number;
}

const DEFAULT_LIMITS: SourceLimits = { maxFiles: 20_000, maxBytes: 64 << 20 };
const FULL_SHA = /^[0-9a-f]{40}$/;

/** Parses `git ls-remote --symref` output: refs by name (peeled tags win), and what HEAD points at. */
export function parseLsRemote(text: string): { refs: Map<string, string>; head?: string } {
  const refs = new Map<string, string>();
  let head: string | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sym = /^ref: (\S+)\tHEAD$/.exec(line);
    if (sym) {
      head = sym[1];
      continue;
    }
    const m = /^([0-9a-f]{40,64})\t(\S+)$/.exec(line);
    if (!m) continue;
    const [, oid, name] = m as unknown as [string, string, string];
    if (name.endsWith('^{}')) refs.set(name.slice(0, -3), oid);
    else if (!refs.has(name)) refs.set(name, oid);
  }
  return { refs, ...(head ? { head } : {}) };
}

/**
 * What `ref` means among `refs`: no ref is the default branch (HEAD); then an exact ref name, a
 * branch, a tag, a full commit id, and last a semver range over the tags.
 */
export function resolveRef(refs: Map<string, string>, head: string | undefined, ref: string | undefined): ResolvedRef {
  if (!ref) {
    const name = head ?? (refs.has('refs/heads/main') ? 'refs/heads/main' : refs.has('refs/heads/master') ? 'refs/heads/master' : undefined);
    const rev = name ? refs.get(name) : refs.get('HEAD');
    if (!rev) throw new Error('the repository has no default branch (HEAD): set spec.ref');
    return { revision: rev, ref: name ?? 'HEAD' };
  }
  for (const name of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
    if (name.startsWith('refs/') && refs.has(name)) return { revision: refs.get(name)!, ref: name };
  }
  if (FULL_SHA.test(ref)) return { revision: ref, ref };
  if (isSemverRange(ref)) {
    const tags = [...refs.keys()].filter((r) => r.startsWith('refs/tags/')).map((r) => r.slice('refs/tags/'.length));
    const best = highestTagIn(tags, ref);
    if (!best) throw new Error(`no tag matches the semver range "${ref}" (tags: ${tags.slice(0, 10).join(', ') || 'none'}${tags.length > 10 ? ', ...' : ''})`);
    return { revision: refs.get(`refs/tags/${best}`)!, ref: `refs/tags/${best}` };
  }
  throw new Error(`ref "${ref}" names no branch, tag or full commit id of the repository, and is not a semver range`);
}

/** A path in the tree that stays inside a root when joined to it: no absolute, `.`, `..` or `.git` parts. */
export function safeTreePath(p: string): boolean {
  if (!p || p.startsWith('/') || p.includes('\0') || p.includes('\\')) return false;
  return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && part.toLowerCase() !== '.git');
}

export class GitSource {
  readonly git: GitCli;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    /** Where the cached clones live (one bare repository per URL). */
    readonly cacheDir: string,
    private readonly limits: SourceLimits = DEFAULT_LIMITS,
  ) {
    this.git = new GitCli(join(cacheDir, '.state'));
  }

  repoDir(url: string): string {
    return join(this.cacheDir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.git`);
  }

  /** Runs `fn` alone on the cache repository of `url`, which it makes first when missing. */
  private async withRepo<T>(url: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = this.repoDir(url);
    const prev = this.locks.get(dir) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(async () => {
      if (!existsSync(join(dir, 'HEAD'))) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await this.git.run(['init', '--quiet', '--bare', '--', dir]);
      }
      return fn(dir);
    });
    this.locks.set(dir, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(dir) === run) this.locks.delete(dir);
    }
  }

  /** The commit `ref` names on the remote now (one `git ls-remote`). */
  async resolve(url: string, ref: string | undefined, credentials?: GitCredentials): Promise<ResolvedRef> {
    const out = await this.git.run(['ls-remote', '--symref', '--', url], { credentials, maxStdout: 32 << 20, timeoutMs: 60_000 });
    const { refs, head } = parseLsRemote(out.toString('utf8'));
    return resolveRef(refs, head, ref);
  }

  async hasCommit(url: string, revision: string): Promise<boolean> {
    if (!FULL_SHA.test(revision)) return false;
    return this.withRepo(url, async (dir) => {
      try {
        await this.git.run(['cat-file', '-e', `${revision}^{commit}`], { cwd: dir });
        return true;
      } catch {
        return false;
      }
    });
  }

  /**
   * Makes `revision` present in the cache: a shallow fetch of that very commit (or of `ref` when the
   * server refuses commit ids), kept by a ref so that it stays until replaced.
   */
  async fetch(url: string, resolved: ResolvedRef, credentials?: GitCredentials, o: { knownMissing?: boolean } = {}): Promise<void> {
    if (!o.knownMissing && (await this.hasCommit(url, resolved.revision))) return;
    await this.withRepo(url, async (dir) => {
      const base = ['fetch', '--quiet', '--depth', '1', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules'];
      try {
        // a fetch of the commit id that succeeds has brought exactly that commit
        await this.git.run([...base, '--', url, resolved.revision], { cwd: dir, credentials, timeoutMs: 300_000 });
        return;
      } catch (err) {
        if (resolved.ref === resolved.revision) throw err;
      }
      await this.git.run([...base, '--', url, `+${resolved.ref}:refs/berth/fetch`], { cwd: dir, credentials, timeoutMs: 300_000 });
      try {
        await this.git.run(['cat-file', '-e', `${resolved.revision}^{commit}`], { cwd: dir });
      } catch {
        throw new Error(`commit ${resolved.revision} is not on the remote's ${resolved.ref}`);
      }
    });
  }

  /** Keeps `revision` in the cache under `name` (applied, healthy...) until set again. */
  async keep(url: string, name: string, revision: string): Promise<void> {
    await this.withRepo(url, (dir) => this.git.run(['update-ref', `refs/berth/keep/${name}`, revision], { cwd: dir }));
  }

  /** The committer time of `revision`, in ms since the epoch. */
  async commitTime(url: string, revision: string): Promise<number> {
    const out = await this.withRepo(url, (dir) => this.git.run(['show', '-s', '--format=%ct', revision, '--'], { cwd: dir }));
    return Number(out.toString().trim()) * 1000;
  }

  /** Regular files of `revision` under `path` (all of them when empty), with sizes; symlinks and submodules are left out. */
  async listFiles(url: string, revision: string, path: string): Promise<TreeFile[]> {
    if (!FULL_SHA.test(revision)) throw new Error(`not a commit id: ${revision}`);
    const out = await this.withRepo(url, (dir) =>
      this.git.run(['--literal-pathspecs', 'ls-tree', '-r', '-z', '-l', '--full-tree', revision, '--', ...(path ? [path] : [])], { cwd: dir }),
    );
    const files: TreeFile[] = [];
    for (const rec of out.toString('utf8').split('\0')) {
      const m = /^(\d{6}) (\w+) ([0-9a-f]+) +(-|\d+)\t(.+)$/s.exec(rec);
      if (!m) continue;
      const [, mode, type, oid, size, p] = m as unknown as [string, string, string, string, string, string];
      if (type !== 'blob' || (mode !== '100644' && mode !== '100755')) continue;
      if (!safeTreePath(p)) continue;
      files.push({ path: p, mode, oid, size: Number(size) });
    }
    if (files.length > this.limits.maxFiles) throw new Error(`${path || 'the repository'} holds ${files.length} files at ${revision.slice(0, 12)}: more than ${this.limits.maxFiles}`);
    const total = files.reduce((n, f) => n + f.size, 0);
    if (total > this.limits.maxBytes) throw new Error(`${path || 'the repository'} holds ${total} bytes at ${revision.slice(0, 12)}: more than ${this.limits.maxBytes}`);
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The contents of `files` (one `git cat-file --batch`). */
  async readFiles(url: string, files: TreeFile[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (files.length === 0) return out;
    const unique = [...new Set(files.map((f) => f.oid))];
    const buf = await this.withRepo(url, (dir) =>
      this.git.run(['cat-file', '--batch'], { cwd: dir, input: `${unique.join('\n')}\n`, maxStdout: this.limits.maxBytes + unique.length * 64 }),
    );
    const byOid = new Map<string, Buffer>();
    let at = 0;
    while (at < buf.length) {
      const nl = buf.indexOf(0x0a, at);
      if (nl < 0) break;
      const header = buf.subarray(at, nl).toString('utf8');
      const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
      if (!m) throw new GitError(`unexpected git cat-file output: ${header.slice(0, 100)}`, '', null);
      const size = Number(m[3]);
      byOid.set(m[1]!, buf.subarray(nl + 1, nl + 1 + size));
      at = nl + 1 + size + 1;
    }
    for (const f of files) {
      const content = byOid.get(f.oid);
      if (content) out.set(f.path, content);
    }
    return out;
  }

  /**
   * Writes the regular files of `revision` into `dest` (for kustomize, which reads a directory).
   * Only paths that stay inside `dest`; symlinks and submodules are never written.
   */
  async materialize(url: string, revision: string, dest: string): Promise<void> {
    const files = await this.listFiles(url, revision, '');
    const contents = await this.readFiles(url, files);
    const root = resolve(dest);
    for (const f of files) {
      const target = resolve(root, f.path);
      if (!target.startsWith(root + sep)) continue;
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeFile(target, contents.get(f.path) ?? Buffer.alloc(0), { mode: 0o600 });
    }
  }

  /** Removes the cached clone of `url`. */
  async forget(url: string): Promise<void> {
    await this.withRepo(url, (dir) => rm(dir, { recursive: true, force: true }));
  }
}
