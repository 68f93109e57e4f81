import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Runtime } from '../index.js';
import { ImageConfigSchema, type ImageConfig } from '../images/schema.js';
import { applyLayer } from '../snapshots/apply-layer.js';
import { decompressTo } from '../snapshots/decompress.js';
import { resolveInRoot } from '../snapshots/safe-path.js';
import { randomHexId } from '../util/digest.js';
import { pathExists } from '../util/fs.js';
import { archiveKind } from './archive.js';
import { BuildCache, chainKey, type CacheEntry } from './cache.js';
import { BuildContext } from './context.js';
import { ContextHashCache } from './hash-cache.js';
import { isDirInRoot } from './sources.js';
import { copySources as copyInto, mkdirInRoot } from './copy.js';
import { copySources } from './copy-sources.js';
import { applyMetadata, METADATA_INSTRUCTIONS, type ArgScope } from './metadata.js';
import { argEnv, baseState, resolveOwner, runArgv, SCRIPT_PATH } from './step-parts.js';
import { atLocation, buildError, BuildError, type SourceLocation } from './errors.js';
import { ALLOWED_FLAGS, flagValue, InstructionError, listArgs, parseKeyValues } from './instructions.js';
import { commitUpper, type BuiltLayer } from './layer.js';
import { runInContainer } from './run-container.js';
import { parseDockerfile, type Dockerfile, type Instruction } from './parser.js';
import { neededStages, planStages, type StagePlan } from './stages.js';
import { PREDEFINED_ARGS, substitutionVars, type StageState } from './state.js';
import { expandWord, WordError } from './words.js';

/** What a build needs; plain data, so it can be sent to a remote node's builder as is. */
export interface BuildInput {
  /** Directory holding the build context. */
  contextDir: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  /** Its name, for messages and `<name>.dockerignore` (default "Dockerfile"). */
  dockerfileName?: string;
  /** Ignore rules to use instead of the context's .dockerignore (e.g. a `<Dockerfile>.dockerignore` next to a Dockerfile outside the context). */
  dockerignore?: string;
  buildArgs?: Record<string, string>;
  tags?: string[];
  target?: string;
  noCache?: boolean;
}

export type BuildEvent =
  | { type: 'step'; step: number; total: number; text: string }
  | { type: 'cached' }
  | { type: 'running'; containerId: string }
  | { type: 'output'; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'removed'; containerId: string }
  | { type: 'layer'; diffID: string; size: number }
  | { type: 'triggers'; count: number }
  | { type: 'warning'; message: string };

export interface BuildResult {
  imageId: string;
  tags: string[];
  /** Steps answered from the cache, and RUN steps that ran in a container. */
  cachedSteps: number;
  executedRuns: number;
}

export interface BuildOptions {
  onEvent?: (e: BuildEvent) => void;
  signal?: AbortSignal;
}

const nowIso = (): string => new Date().toISOString();
const nop = (text: string): string => `/bin/sh -c #(nop)  ${text}`;
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** One build: parses, plans the stages and runs the steps with Docker's layer cache. */
class BuildRun implements ArgScope {
  private readonly df: Dockerfile;
  readonly buildArgs: Map<string, string>;
  readonly consumed = new Set<string>();
  private readonly metaVars = new Map<string, string>();
  readonly metaDeclared = new Map<string, string | undefined>();
  private readonly results = new Map<number, StageState>();
  private readonly tmp: string;
  private step = 0;
  private total = 0;
  private cached = 0;
  private runs = 0;
  private ctx!: BuildContext;

  constructor(
    private readonly rt: Runtime,
    private readonly cache: BuildCache,
    private readonly hashes: ContextHashCache,
    private readonly input: BuildInput,
    private readonly o: BuildOptions,
  ) {
    this.df = parseDockerfile(input.dockerfile, input.dockerfileName ?? 'Dockerfile');
    this.buildArgs = new Map(Object.entries(input.buildArgs ?? {}));
    this.tmp = join(rt.root, 'tmp', `build-${randomHexId().slice(0, 16)}`);
  }

  private emit(e: BuildEvent): void {
    this.o.onEvent?.(e);
  }

  private checkAborted(): void {
    if (this.o.signal?.aborted) throw buildError('build cancelled', undefined, 'Failed');
  }

  async run(): Promise<BuildResult> {
    for (const w of this.df.warnings) this.emit({ type: 'warning', message: w });
    this.ctx = await BuildContext.open(this.input.contextDir, this.input.dockerfileName ?? 'Dockerfile', this.hashes, this.input.dockerignore).catch((e: unknown) => {
      throw buildError(e instanceof Error ? e.message : String(e));
    });
    // global ARGs are expanded in order, each seeing the ones before
    const pre = this.df.instructions.filter((i, n) => i.keyword === 'ARG' && !this.df.instructions.slice(0, n).some((p) => p.keyword === 'FROM'));
    for (const ins of pre) this.declareMetaArg(ins);
    const plan = planStages(this.df, this.metaVars);
    let target = plan.stages[plan.stages.length - 1] as StagePlan;
    if (this.input.target !== undefined) {
      const t = plan.stages.find((s) => s.name === this.input.target?.toLowerCase());
      if (!t) throw buildError(`target stage "${this.input.target}" could not be found in ${this.df.file}`);
      target = t;
    }
    const need = neededStages(plan, target.index, this.metaVars, this.df.escape);
    this.total = plan.metaArgs.length + plan.stages.filter((s) => need.has(s.index)).reduce((n, s) => n + 1 + s.instructions.length, 0);
    await mkdir(this.tmp, { recursive: true });
    try {
      for (const ins of plan.metaArgs) this.announce(ins);
      let final: StageState | undefined;
      for (const stage of plan.stages) {
        if (!need.has(stage.index)) continue;
        final = await this.buildStage(plan.stages, stage);
        this.results.set(stage.index, final);
        if (stage.index === target.index) break;
      }
      const unused = [...this.buildArgs.keys()].filter((k) => !this.consumed.has(k) && !PREDEFINED_ARGS.includes(k));
      if (unused.length) this.emit({ type: 'warning', message: `One or more build-args [${unused.join(' ')}] were not consumed` });
      const imageId = await this.commitImage(final as StageState);
      await this.hashes.save();
      return { imageId, tags: this.input.tags ?? [], cachedSteps: this.cached, executedRuns: this.runs };
    } finally {
      await rm(this.tmp, { recursive: true, force: true });
    }
  }

  private loc(ins: Instruction): SourceLocation {
    return { file: this.df.file, line: ins.line, instruction: ins.keyword };
  }

  private announce(ins: Instruction): void {
    this.step++;
    const rest = /^\S+\s*([\s\S]*)$/.exec(ins.original)?.[1] ?? '';
    this.emit({ type: 'step', step: this.step, total: this.total, text: rest ? `${ins.keyword} ${rest}` : ins.keyword });
  }

  private declareMetaArg(ins: Instruction): void {
    for (const [k, def] of parseKeyValues(ins, this.metaVars, this.df.escape, { expand: true, allowNoValue: true })) {
      const v = this.buildArgs.get(k) ?? def;
      if (this.buildArgs.has(k)) this.consumed.add(k);
      this.metaDeclared.set(k, v);
      if (v !== undefined) this.metaVars.set(k, v);
      else this.metaVars.delete(k);
    }
  }

  // ---------- stages ----------

  private async buildStage(stages: readonly StagePlan[], plan: StagePlan): Promise<StageState> {
    this.checkAborted();
    this.announce(plan.from);
    const at = this.loc(plan.from);
    let st: StageState;
    try {
      st = await baseState(this.rt, stages, plan, this.results);
    } catch (e) {
      throw atLocation(e, at);
    }
    const triggers = st.config.OnBuild ?? [];
    if (triggers.length) {
      this.emit({ type: 'triggers', count: triggers.length });
      let parsed: Dockerfile;
      try {
        parsed = parseDockerfile(triggers.join('\n'), `${this.df.file}:${plan.from.line} (ONBUILD trigger)`);
      } catch (e) {
        throw atLocation(e, at);
      }
      st.config.OnBuild = null;
      for (const t of parsed.instructions) {
        if (t.keyword === 'ONBUILD' || t.keyword === 'FROM' || t.keyword === 'MAINTAINER') throw buildError(`${t.keyword} isn't allowed as an ONBUILD trigger`, at);
        await this.dispatch(st, t, at);
      }
    } else if (st.config.OnBuild !== undefined) st.config.OnBuild = null;
    for (const ins of plan.instructions) {
      this.checkAborted();
      this.announce(ins);
      await this.dispatch(st, ins, this.loc(ins));
    }
    return st;
  }

  // ---------- steps ----------

  private async dispatch(st: StageState, ins: Instruction, at: SourceLocation): Promise<void> {
    try {
      const allowed = ALLOWED_FLAGS[ins.keyword] ?? [];
      for (const f of ins.flags) if (!allowed.includes(f.name)) throw new InstructionError(`unknown flag: --${f.name}`);
      await this.execute(st, ins);
    } catch (e) {
      if (e instanceof InstructionError || e instanceof WordError) throw buildError(e.message, at);
      throw atLocation(e, at);
    }
  }

  private async execute(st: StageState, ins: Instruction): Promise<void> {
    const vars = substitutionVars(st);
    if (METADATA_INSTRUCTIONS.has(ins.keyword)) return this.meta(st, applyMetadata(st, ins, vars, this.df.escape, this, this.df.file));
    switch (ins.keyword) {
      case 'WORKDIR':
        return this.workdir(st, ins, vars);
      case 'RUN':
        return this.runStep(st, ins);
      case 'COPY':
      case 'ADD':
        return this.copyStep(st, ins, vars);
      default:
        throw new InstructionError(`${ins.keyword} inside a stage`); // planStages splits on FROM; never reached
    }
  }

  /** A metadata step: no layer, an empty_layer history entry; the creation time is cached for stable image IDs. */
  private async meta(st: StageState, key: string): Promise<void> {
    st.chain = chainKey(st.chain, key);
    let entry = this.input.noCache ? undefined : await this.cache.get(st.chain);
    if (!entry) {
      entry = { created: nowIso(), emptyLayer: true };
      await this.cache.put(st.chain, entry);
    }
    st.history.push({ created: entry.created, created_by: nop(key), empty_layer: true });
  }

  /** A filesystem step: reuse the cached layer for (chain, key), or produce it and record it. */
  private async layerStep(st: StageState, key: string, createdBy: string, produce: () => Promise<BuiltLayer | undefined>): Promise<void> {
    const chain = chainKey(st.chain, key);
    let entry = this.input.noCache ? undefined : await this.cache.get(chain);
    if (entry && !(await this.usable(entry))) entry = undefined;
    if (entry) {
      this.cached++;
      this.emit({ type: 'cached' });
    } else {
      const layer = await produce();
      entry = layer
        ? { created: nowIso(), layer: { diffID: layer.diffID, digest: layer.descriptor.digest, size: layer.descriptor.size, mediaType: layer.descriptor.mediaType } }
        : { created: nowIso(), emptyLayer: true };
      if (layer) this.emit({ type: 'layer', diffID: layer.diffID, size: layer.size });
      await this.cache.put(chain, entry);
    }
    st.chain = chain;
    if (entry.layer) {
      const l = entry.layer;
      st.layers.push({ descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size }, diffID: l.diffID });
      st.history.push({ created: entry.created, created_by: createdBy });
    } else st.history.push({ created: entry.created, created_by: createdBy, empty_layer: true });
  }

  /** A cache entry is usable while its layer blob is stored (re-unpacked if the snapshot was collected). */
  private async usable(e: CacheEntry): Promise<boolean> {
    if (!e.layer) return true;
    if (await this.rt.snapshots.hasLayer(e.layer.diffID)) return this.rt.content.has(e.layer.digest);
    if (!(await this.rt.content.has(e.layer.digest))) return false;
    await this.rt.snapshots.ensureLayer(e.layer.diffID, this.rt.content.path(e.layer.digest));
    return true;
  }

  /** Mounts the stage's layers with a fresh upper dir, lets `fn` change the root, and packs the upper as a layer. */
  private async withRootfs(st: StageState, fn: (rootfs: string) => Promise<boolean>): Promise<BuiltLayer | undefined> {
    if (!(await this.rt.snapshots.useOverlay())) throw buildError('building needs the overlay snapshotter (overlayfs is not available here)', undefined, 'Failed');
    const key = `build-${randomHexId().slice(0, 24)}`;
    try {
      const snap = await this.rt.snapshots.prepare(key, st.layers.map((l) => l.diffID));
      const changed = await fn(snap.rootfs);
      if (!changed) return undefined;
      return await commitUpper(this.rt.images, this.tmp, snap.upper);
    } finally {
      await this.rt.snapshots.remove(key);
    }
  }

  private async workdir(st: StageState, ins: Instruction, vars: Map<string, string>): Promise<void> {
    const raw = expandWord(ins.args.trim(), vars, this.df.escape);
    if (raw === '') throw new InstructionError('WORKDIR requires an argument');
    const dir = posix.resolve(st.config.WorkingDir || '/', raw);
    st.config.WorkingDir = dir;
    await this.layerStep(st, `WORKDIR ${dir}`, nop(`WORKDIR ${dir}`), () =>
      this.withRootfs(st, async (rootfs) => {
        if (await pathExists(await resolveInRoot(rootfs, dir))) return false;
        await mkdirInRoot(rootfs, dir);
        return true;
      }),
    );
  }

  // ---------- RUN ----------

  private async runStep(st: StageState, ins: Instruction): Promise<void> {
    if (flagValue(ins, 'mount') !== undefined) throw new InstructionError('RUN --mount is not supported by berth build');
    const security = flagValue(ins, 'security');
    if (security !== undefined && security !== 'sandbox') throw new InstructionError(`RUN --security=${security} is not supported (only sandbox)`);
    const networkFlag = flagValue(ins, 'network') ?? 'default';
    if (!['default', 'none', 'host'].includes(networkFlag)) throw new InstructionError(`--network=${networkFlag}: want default, none or host`);
    const network = networkFlag === 'host' ? 'host' : 'none';
    if (ins.args.trim() === '' && !ins.json) throw new InstructionError('RUN requires a command');
    const { argv, script } = runArgv(st, ins);
    const { env, keyed } = argEnv(st, this.buildArgs);
    const key = `RUN ${JSON.stringify({ argv, script, args: keyed, network })}`;
    const createdBy = `${keyed.length ? `|${keyed.length} ${keyed.join(' ')} ` : ''}${script ? `${SCRIPT_PATH} <<EOF\n${script}EOF` : argv.join(' ')}`;
    await this.layerStep(st, key, createdBy, () => this.runContainer(st, argv, env, network, ins, script));
  }

  private async runContainer(st: StageState, argv: string[], env: string[], network: 'none' | 'host', ins: Instruction, script?: string): Promise<BuiltLayer> {
    if (!(await this.rt.snapshots.useOverlay())) throw buildError('building needs the overlay snapshotter (overlayfs is not available here)', undefined, 'Failed');
    this.runs++;
    let mounts: Array<{ source: string; target: string }> = [];
    if (script !== undefined) {
      const path = join(this.tmp, `run-script-${randomHexId().slice(0, 12)}`);
      await writeFile(path, script, { mode: 0o755 });
      mounts = [{ source: path, target: SCRIPT_PATH }];
    }
    return runInContainer(this.rt, {
      state: st,
      argv,
      mounts,
      env,
      network,
      tmpDir: this.tmp,
      signal: this.o.signal,
      emit: (e) => this.emit(e),
      failure: (code, oom) =>
        buildError(
          `step ${this.step}/${this.total}: the command '${argv.join(' ')}' returned a non-zero code: ${code}${oom ? ' (killed: out of memory)' : ''}`,
          this.loc(ins),
          'Failed',
        ),
    });
  }

  // ---------- COPY / ADD ----------

  private async copyStep(st: StageState, ins: Instruction, vars: Map<string, string>): Promise<void> {
    const isAdd = ins.keyword === 'ADD';
    for (const f of ['parents', 'exclude']) if (flagValue(ins, f) !== undefined) throw new InstructionError(`${ins.keyword} --${f} is not supported by berth build`);
    const esc = this.df.escape;
    const exp = (v: string | undefined): string | undefined => (v === undefined ? undefined : expandWord(v, vars, esc));
    const from = exp(flagValue(ins, 'from'));
    const chown = exp(flagValue(ins, 'chown'));
    const chmodText = exp(flagValue(ins, 'chmod'));
    if (chmodText !== undefined && !/^[0-7]{3,4}$/.test(chmodText)) throw new InstructionError(`--chmod=${chmodText}: want an octal mode such as 0755`);
    const chmod = chmodText === undefined ? undefined : parseInt(chmodText, 8);
    const words = listArgs(ins, vars, esc);
    if (words.length < 2) throw new InstructionError(`${ins.keyword} requires at least two arguments, but only ${words.length === 1 ? 'one was' : 'none were'} provided. Destination could not be determined`);
    const destWord = words[words.length - 1] as string;
    const srcWords = words.slice(0, -1);
    const workdir = st.config.WorkingDir || '/';
    const dest = posix.resolve(workdir, destWord);
    const destEndsSlash = destWord.endsWith('/') || destWord === '.' || destWord.endsWith('/.');

    const src = await copySources({
      rt: this.rt,
      ins,
      stage: st,
      srcWords,
      destWord,
      destEndsSlash,
      from,
      checksum: exp(flagValue(ins, 'checksum')),
      vars,
      escape: esc,
      stages: this.results,
      context: this.ctx,
      tmp: this.tmp,
    });
    try {
      if (src.sources.length > 1 && !destEndsSlash) throw new InstructionError(`When using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
      const key = `${ins.keyword} ${JSON.stringify({ src: src.sumParts, dest, destEndsSlash, chown, chmod })}`;
      const kind = src.sources.length === 1 && (await src.tree.stat(src.sources[0] as string))?.type === 'dir' ? 'dir' : 'file';
      const createdBy = nop(src.createdByText ?? `${ins.keyword} ${kind}:${sha(src.sumParts.join('\n'))} in ${destWord} `);
      await this.layerStep(st, key, createdBy, () =>
        this.withRootfs(st, async (rootfs) => {
          await src.lazy?.();
          const owner = chown ? await resolveOwner(rootfs, chown) : undefined;
          const existingDir = await isDirInRoot(rootfs, dest);
          const toCopy: string[] = [];
          for (const s of src.sources) {
            if (isAdd && !src.fromUrls && (await src.tree.stat(s))?.type === 'file' && (await archiveKind(src.tree.abs(s)))) {
              await this.extract(src.tree.abs(s), await mkdirInRoot(rootfs, dest));
            } else toCopy.push(s);
          }
          await copyInto(rootfs, src.tree, toCopy, dest, destEndsSlash || existingDir, { owner, chmod });
          return true;
        }),
      );
    } finally {
      await src.release?.();
    }
  }

  /** ADD of a local tar (plain or gzip): unpacked with the runtime's safe layer apply (no escapes, no devices). */
  private async extract(archive: string, destDir: string): Promise<void> {
    const plain = join(this.tmp, `add-${randomHexId().slice(0, 12)}.tar`);
    try {
      await decompressTo(archive, plain);
      await applyLayer(plain, destDir, 'flatten');
    } finally {
      await rm(plain, { force: true });
    }
  }

  // ---------- the image ----------

  private async commitImage(st: StageState): Promise<string> {
    const last = st.history[st.history.length - 1]?.created ?? nowIso();
    const config: ImageConfig = {
      created: last,
      ...(st.author ? { author: st.author } : {}),
      architecture: st.architecture,
      os: st.os,
      config: st.config,
      rootfs: { type: 'layers', diff_ids: st.layers.map((l) => l.diffID) },
      history: st.history,
    };
    ImageConfigSchema.parse(config);
    return this.rt.images.addImage(Buffer.from(JSON.stringify(config)), st.layers, {
      names: this.input.tags ?? [],
      ...(st.baseImageId ? { parent: st.baseImageId } : {}),
    });
  }
}

/** Builds images from Dockerfiles on the local runtime; the cache index lives under <root>/build-cache. */
export class Builder {
  readonly cache: BuildCache;

  constructor(private readonly rt: Runtime) {
    this.cache = new BuildCache(rt.root);
  }

  /** Builds in a lease: the layers of its steps are kept from the garbage collector until the image names them. */
  async build(input: BuildInput, o: BuildOptions = {}): Promise<BuildResult> {
    const run = new BuildRun(this.rt, this.cache, new ContextHashCache(this.rt.root), input, o);
    return this.rt.images.withLease('build', () => run.run());
  }
}

export { BuildError };
