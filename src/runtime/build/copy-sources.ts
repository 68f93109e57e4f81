/**
 * Where a COPY or ADD takes its files from: heredocs, URLs (ADD only, with --checksum), another
 * stage or image (--from; its root is mounted only when the step really runs, since a cache hit
 * needs just its layer IDs), or the build context. Answers the source tree, the matched sources and
 * the parts the step's cache key is made of.
 */
import { createHash } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../index.js';
import type { LayerInput } from '../images/store.js';
import { randomHexId, sha256OfFile } from '../util/digest.js';
import type { BuildContext } from './context.js';
import { contextTree, rootfsTree, type SourceTree } from './copy.js';
import { InstructionError } from './instructions.js';
import type { Instruction } from './parser.js';
import { expandHeredoc, fetchUrl, matchInRoot } from './sources.js';
import type { StageState } from './state.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface CopySources {
  tree: SourceTree;
  sources: string[];
  /** What identifies the sources' content in the cache key. */
  sumParts: string[];
  /** The sources are downloaded URLs (ADD does not unpack those). */
  fromUrls: boolean;
  /** History text instead of the content-addressed default (COPY --from). */
  createdByText?: string;
  /** Mounts the --from root and matches the sources in it: only when the step runs. */
  lazy?: () => Promise<void>;
  /** Unmounts what lazy mounted. */
  release?: () => Promise<void>;
}

export interface CopySourceInput {
  rt: Runtime;
  ins: Instruction;
  stage: StageState;
  /** The words before the destination, expanded. */
  srcWords: string[];
  destWord: string;
  destEndsSlash: boolean;
  from: string | undefined;
  checksum: string | undefined;
  vars: Map<string, string>;
  escape: string;
  /** The stages built so far, by index. */
  stages: ReadonlyMap<number, StageState>;
  context: BuildContext;
  /** The build's temporary directory. */
  tmp: string;
}

export async function copySources(i: CopySourceInput): Promise<CopySources> {
  const { ins, srcWords } = i;
  const isAdd = ins.keyword === 'ADD';
  const heredocs = new Map(ins.heredocs.map((h) => [h.name, h]));
  const heredocSrc = srcWords.map((w) => /^\d*<<-?["']?([a-zA-Z][a-zA-Z0-9_]*)["']?$/.exec(w)?.[1]).filter((n): n is string => !!n && heredocs.has(n));
  const urls = srcWords.filter((w) => /^https?:\/\//i.test(w));
  if (i.checksum !== undefined && urls.length === 0) throw new InstructionError('--checksum is only supported for URL sources');

  if (heredocSrc.length) {
    if (heredocSrc.length !== srcWords.length) throw new InstructionError(`${ins.keyword}: heredoc sources cannot be mixed with other sources`);
    const dir = join(i.tmp, `heredoc-${randomHexId().slice(0, 12)}`);
    await mkdir(dir, { recursive: true });
    const sumParts: string[] = [];
    for (const name of heredocSrc) {
      const h = heredocs.get(name) as { content: string; expand: boolean };
      const content = h.expand ? expandHeredoc(h.content, i.vars, i.escape) : h.content;
      await writeFile(join(dir, name), content, { mode: 0o644 });
      await utimes(join(dir, name), 0, 0);
      sumParts.push(`heredoc:${name}:${sha(content)}`);
    }
    return { tree: rootfsTree(dir), sources: heredocSrc, sumParts, fromUrls: false };
  }

  if (urls.length) {
    if (!isAdd) throw new InstructionError(`source can't be a URL for COPY (use ADD): ${urls[0]}`);
    if (urls.length !== srcWords.length) throw new InstructionError('ADD: URL sources cannot be mixed with local sources');
    if (i.checksum !== undefined && (urls.length !== 1 || !/^sha256:[a-f0-9]{64}$/.test(i.checksum))) {
      throw new InstructionError('--checksum needs exactly one URL source and a sha256:<64 hex> digest');
    }
    const dir = join(i.tmp, `url-${randomHexId().slice(0, 12)}`);
    await mkdir(dir, { recursive: true });
    const sources: string[] = [];
    const sumParts: string[] = [];
    for (const url of urls) {
      const name = await fetchUrl(url, dir);
      const digest = await sha256OfFile(join(dir, name));
      if (i.checksum !== undefined && digest !== i.checksum) throw new InstructionError(`checksum mismatch for ${url}: expected ${i.checksum}, got ${digest}`);
      sources.push(name);
      sumParts.push(`url:${url}:${digest}`);
    }
    return { tree: rootfsTree(dir), sources, sumParts, fromUrls: true };
  }

  if (i.from !== undefined) return fromStageOrImage(i, i.from);

  const sources: string[] = [];
  for (const w of srcWords) {
    const matched = await i.context.match(w).catch((e: unknown) => {
      throw new InstructionError(e instanceof Error ? e.message : String(e));
    });
    sources.push(...matched);
  }
  const sumParts: string[] = [];
  for (const s of sources) sumParts.push(`${s}:${await i.context.checksum(s)}`);
  return { tree: contextTree(i.context), sources, sumParts, fromUrls: false };
}

/** COPY --from=STAGE|IMAGE: the other root is mounted by `lazy`, only when the step runs. */
async function fromStageOrImage(i: CopySourceInput, from: string): Promise<CopySources> {
  if (i.ins.keyword === 'ADD') throw new InstructionError('ADD does not take --from (use COPY --from)');
  const stage = [...i.stages.values()].find((s) => s.name === from.toLowerCase()) ?? (/^\d+$/.test(from) ? i.stages.get(Number(from)) : undefined);
  let layers: LayerInput[];
  let ident: string;
  if (stage) {
    if (stage.index >= i.stage.index) throw new InstructionError(`--from=${from}: a stage can only copy from an earlier stage`);
    layers = stage.layers;
    ident = `stage:${stage.layers.map((l) => l.diffID).join(',')}`;
  } else {
    const rec = await i.rt.images.resolve(from).catch(() => {
      throw new InstructionError(`--from=${from}: no build stage or local image of that name`);
    });
    const cfg = await i.rt.images.config(rec.id);
    const m = await i.rt.images.manifest(rec.id);
    layers = m.layers.map((d, n) => ({ descriptor: d, diffID: cfg.rootfs.diff_ids[n] as string }));
    ident = `image:${rec.id}`;
  }
  const out: CopySources = {
    tree: rootfsTree('/nonexistent'),
    sources: [],
    sumParts: [ident, ...i.srcWords],
    fromUrls: false,
    createdByText: `COPY --from=${from} ${i.srcWords.join(' ')} ${i.destWord}`,
  };
  out.lazy = async () => {
    const key = `build-from-${randomHexId().slice(0, 20)}`;
    const snap = await i.rt.snapshots.prepare(key, layers.map((l) => l.diffID));
    out.release = () => i.rt.snapshots.remove(key);
    out.tree = rootfsTree(snap.rootfs);
    for (const w of i.srcWords) out.sources.push(...(await matchInRoot(snap.rootfs, w)));
    if (out.sources.length > 1 && !i.destEndsSlash) throw new InstructionError(`When using COPY with more than one source file, the destination must be a directory and end with a /`);
  };
  return out;
}
