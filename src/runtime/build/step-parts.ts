/**
 * The pieces of a build step that need no build-wide state: a stage's starting point (FROM an image,
 * scratch or an earlier stage), RUN's argv and the ARGs it sees, and COPY/ADD --chown owners.
 */
import type { Runtime } from '../index.js';
import { resolveUser } from '../containers/user.js';
import { goArch } from '../images/schema.js';
import type { Owner } from './copy.js';
import { buildError } from './errors.js';
import { ALLOWED_FLAGS, flagValue, InstructionError } from './instructions.js';
import { commandArgs } from './metadata.js';
import type { Instruction } from './parser.js';
import { findStage, type StagePlan } from './stages.js';
import { cloneState, DEFAULT_SHELL, envMap, PREDEFINED_ARGS, type StageState } from './state.js';

/** Where a RUN heredoc script with a #! line is mounted: on the /dev tmpfs, so it never lands in the layer. */
export const SCRIPT_PATH = '/dev/berth-run-script';

export async function baseState(rt: Runtime, stages: readonly StagePlan[], plan: StagePlan, built: ReadonlyMap<number, StageState>): Promise<StageState> {
  for (const f of plan.from.flags) if (!ALLOWED_FLAGS.FROM?.includes(f.name)) throw new InstructionError(`unknown flag: --${f.name}`);
  const platform = flagValue(plan.from, 'platform');
  if (platform !== undefined && platform !== '' && !platform.startsWith('linux')) throw new InstructionError(`--platform=${platform}: only linux images can be built here`);
  const fromStage = findStage(stages, plan.base, plan.index);
  if (fromStage) {
    const prev = built.get(fromStage.index);
    if (!prev) throw new InstructionError(`stage "${plan.base}" was not built`);
    const st = cloneState(prev);
    return { ...st, index: plan.index, name: plan.name, args: new Map(), cmdSet: false };
  }
  const base: StageState = {
    index: plan.index,
    name: plan.name,
    config: {},
    layers: [],
    history: [],
    chain: 'scratch',
    args: new Map(),
    cmdSet: false,
    architecture: goArch(),
    os: 'linux',
  };
  if (plan.base.toLowerCase() === 'scratch') return base;
  let rec;
  try {
    rec = await rt.images.resolve(plan.base);
  } catch {
    throw buildError(`image "${plan.base}" not found in the local image store (load, import or pull it first)`, undefined, 'NotFound');
  }
  const cfg = await rt.images.config(rec.id);
  const manifest = await rt.images.manifest(rec.id);
  return {
    ...base,
    config: structuredClone(cfg.config ?? {}),
    layers: manifest.layers.map((d, i) => ({ descriptor: d, diffID: cfg.rootfs.diff_ids[i] as string })),
    history: structuredClone(cfg.history ?? []),
    chain: `image:${rec.id}`,
    architecture: cfg.architecture,
    os: cfg.os,
    ...(cfg.author ? { author: cfg.author } : {}),
    baseImageId: rec.id,
  };
}

/** RUN's argv; a lone heredoc starting with #! is run as a script file (BuildKit), mounted at SCRIPT_PATH. */
export function runArgv(st: StageState, ins: Instruction): { argv: string[]; script?: string } {
  if (ins.heredocs.length === 0) return { argv: commandArgs(st, ins) };
  const shell = st.config.Shell ?? DEFAULT_SHELL;
  const only = /^\d*<<-?(["']?)[a-zA-Z][a-zA-Z0-9_]*\1$/.test(ins.args.trim());
  if (only && ins.heredocs.length === 1) {
    const content = (ins.heredocs[0] as { content: string }).content;
    if (content.startsWith('#!')) return { argv: [SCRIPT_PATH], script: content };
    return { argv: [...shell, content] };
  }
  // the shell reads the heredocs itself
  return { argv: [...shell, `${ins.args.trim()}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`] };
}

/** ARG values a RUN sees as environment variables (ENV of the same name wins). */
export function argEnv(st: StageState, buildArgs: ReadonlyMap<string, string>): { env: string[]; keyed: string[] } {
  const envKeys = envMap(st.config.Env);
  const env: string[] = [];
  const keyed: string[] = [];
  for (const [k, v] of st.args) {
    if (v === undefined || envKeys.has(k)) continue;
    env.push(`${k}=${v}`);
    if (!PREDEFINED_ARGS.includes(k)) keyed.push(`${k}=${v}`);
  }
  for (const k of PREDEFINED_ARGS) {
    const v = buildArgs.get(k);
    if (v !== undefined && !st.args.has(k) && !envKeys.has(k)) env.push(`${k}=${v}`);
  }
  return { env, keyed: keyed.sort() };
}

/** --chown=USER[:GROUP] as uid and gid, by the stage's own /etc/passwd and /etc/group. */
export async function resolveOwner(rootfs: string, chown: string): Promise<Owner> {
  const [u = '', g] = chown.split(':');
  const user = await resolveUser(rootfs, u).catch((e: unknown) => {
    throw new InstructionError(`--chown=${chown}: ${e instanceof Error ? e.message.replace(/^user: /, '') : String(e)}`);
  });
  if (g === undefined || g === '') return { uid: user.uid, gid: user.uid };
  const withGroup = await resolveUser(rootfs, `${u}:${g}`).catch((e: unknown) => {
    throw new InstructionError(`--chown=${chown}: ${e instanceof Error ? e.message.replace(/^user: /, '') : String(e)}`);
  });
  return { uid: withGroup.uid, gid: withGroup.gid };
}
