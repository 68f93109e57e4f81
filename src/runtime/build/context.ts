import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { isNodeError } from '../util/errors.js';
import type { ContextHashCache } from './hash-cache.js';
import { globToRegex, IgnoreMatcher, parseIgnoreFile } from '../../util/dockerignore.js';

export interface ContextEntry {
  rel: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  dev: number;
  ino: number;
}

const hasGlob = (s: string): boolean => /[*?[\\]/.test(s);

/** Cleans a source path of COPY/ADD; undefined when it climbs out of the context. */
export function cleanContextPath(src: string): string | undefined {
  const parts: string[] = [];
  for (const part of src.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

/**
 * The build context directory as the builder sees it: walked once (honouring .dockerignore),
 * with file contents hashed at most once per build for the cache keys of COPY and ADD.
 */
export class BuildContext {
  private entries: Map<string, ContextEntry> | undefined;
  private readonly children = new Map<string, string[]>();
  private readonly hashes = new Map<string, Promise<string>>();

  private constructor(
    readonly dir: string,
    readonly ignore: IgnoreMatcher,
    private readonly hashCache?: ContextHashCache,
  ) {}

  /** Reads `<dockerfile>.dockerignore` (BuildKit) or `.dockerignore` from the context. */
  static async open(dir: string, dockerfileName = 'Dockerfile', hashCache?: ContextHashCache, ignoreText?: string): Promise<BuildContext> {
    const st = await lstat(dir).catch((e: unknown) => {
      if (isNodeError(e, 'ENOENT')) throw new Error(`build context "${dir}" does not exist`);
      throw e;
    });
    if (!st.isDirectory()) throw new Error(`build context "${dir}" is not a directory`);
    let text = ignoreText ?? '';
    const base = dockerfileName.split('/').pop() ?? 'Dockerfile';
    for (const name of ignoreText === undefined ? [`${base}.dockerignore`, '.dockerignore'] : []) {
      try {
        text = await readFile(join(dir, name), 'utf8');
        break;
      } catch (e) {
        if (!isNodeError(e, 'ENOENT')) throw e;
      }
    }
    return new BuildContext(dir, new IgnoreMatcher(parseIgnoreFile(text)), hashCache);
  }

  /** Every path of the context that .dockerignore does not exclude. */
  async list(): Promise<Map<string, ContextEntry>> {
    if (this.entries) return this.entries;
    const entries = new Map<string, ContextEntry>();
    const walk = async (rel: string): Promise<void> => {
      const names = (await readdir(rel ? join(this.dir, rel) : this.dir)).sort();
      const kids: string[] = [];
      for (const name of names) {
        const r = rel ? `${rel}/${name}` : name;
        const excluded = this.ignore.excludes(r);
        const st: Stats = await lstat(join(this.dir, r));
        if (st.isDirectory()) {
          if (excluded && !this.ignore.hasExceptions) continue;
          if (!excluded) {
            entries.set(r, entryOf(r, st));
            kids.push(r);
          }
          await walk(r);
          // an excluded directory with re-included children still holds them
          if (excluded && [...entries.keys()].some((k) => k.startsWith(`${r}/`))) {
            entries.set(r, entryOf(r, st));
            kids.push(r);
          }
          continue;
        }
        if (excluded) continue;
        entries.set(r, entryOf(r, st));
        kids.push(r);
      }
      this.children.set(rel, kids);
    };
    await walk('');
    this.entries = entries;
    return entries;
  }

  async get(rel: string): Promise<ContextEntry | undefined> {
    if (rel === '') return { rel: '', type: 'dir', mode: 0o755, size: 0, mtimeMs: 0, ctimeMs: 0, dev: 0, ino: 0 };
    return (await this.list()).get(rel);
  }

  /** Direct children (context-relative paths) of a listed directory. */
  async childrenOf(rel: string): Promise<string[]> {
    await this.list();
    return this.children.get(rel) ?? [];
  }

  /**
   * Resolves a COPY/ADD source to the context paths it names: an exact path or a glob over
   * the context (Go filepath.Match on the whole relative path). Throws when it names nothing.
   */
  async match(src: string): Promise<string[]> {
    const clean = cleanContextPath(src);
    if (clean === undefined) throw new Error(`forbidden path outside the build context: ${src}`);
    if (!hasGlob(clean)) {
      const e = await this.get(clean);
      if (!e) throw new Error(`"${src}": not found in the build context or excluded by .dockerignore`);
      return [clean];
    }
    const re = globToRegex(clean);
    const out = [...(await this.list()).keys()].filter((k) => re.test(k));
    if (out.length === 0) throw new Error(`"${src}": no source files match in the build context (or all are excluded by .dockerignore)`);
    return out;
  }

  /** sha256 of a file's content, computed once per build. */
  fileHash(rel: string): Promise<string> {
    let p = this.hashes.get(rel);
    if (!p) {
      p = this.computeHash(rel);
      this.hashes.set(rel, p);
    }
    return p;
  }

  private async computeHash(rel: string): Promise<string> {
    const abs = join(this.dir, rel);
    const id = await this.get(rel);
    const known = id && this.hashCache ? await this.hashCache.get(abs, id) : undefined;
    if (known) return known;
    const hash = await new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(abs)
        .on('data', (d) => h.update(d))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    });
    if (id && this.hashCache) await this.hashCache.set(abs, id, hash);
    return hash;
  }

  /** Content checksum of a source (a file, or a directory tree as listed): names, types, modes and contents. */
  async checksum(rel: string): Promise<string> {
    const h = createHash('sha256');
    const add = async (r: string, name: string): Promise<void> => {
      const e = await this.get(r);
      if (!e) return;
      if (e.type === 'file') h.update(`${name}\0f\0${e.mode.toString(8)}\0${await this.fileHash(r)}\n`);
      else if (e.type === 'symlink') h.update(`${name}\0l\0${await readlink(join(this.dir, r))}\n`);
      else if (e.type === 'dir') {
        h.update(`${name}\0d\0${e.mode.toString(8)}\n`);
        for (const k of await this.childrenOf(r)) await add(k, `${name}/${k.slice(r ? r.length + 1 : 0)}`);
      }
    };
    await add(rel, '.');
    return h.digest('hex');
  }
}

function entryOf(rel: string, st: Stats): ContextEntry {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  return { rel, type, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, dev: st.dev, ino: st.ino };
}
