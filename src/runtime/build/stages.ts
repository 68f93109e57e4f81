import { buildError } from './errors.js';
import { flagValue } from './instructions.js';
import type { Dockerfile, Instruction } from './parser.js';
import { expandWord, expandWords, type VarLookup } from './words.js';

export interface StagePlan {
  index: number;
  name?: string;
  from: Instruction;
  /** The base as written after meta-ARG expansion (an image ref, "scratch" or an earlier stage's name). */
  base: string;
  instructions: Instruction[];
}

export interface BuildPlan {
  /** ARG instructions before the first FROM. */
  metaArgs: Instruction[];
  stages: StagePlan[];
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** Splits a parsed Dockerfile into global ARGs and stages (FROM image [AS name]). */
export function planStages(df: Dockerfile, metaVars: VarLookup): BuildPlan {
  const metaArgs: Instruction[] = [];
  const stages: StagePlan[] = [];
  for (const ins of df.instructions) {
    const at = { file: df.file, line: ins.line, instruction: ins.keyword };
    if (ins.keyword === 'FROM') {
      const words = expandWords(ins.args, metaVars, df.escape);
      let name: string | undefined;
      if (words.length === 3 && words[1]?.toLowerCase() === 'as') name = (words[2] as string).toLowerCase();
      else if (words.length !== 1) throw buildError('FROM requires either one or three arguments: FROM <image> [AS <name>]', at);
      if (name !== undefined) {
        if (!STAGE_NAME.test(name)) throw buildError(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`, at);
        if (stages.some((s) => s.name === name)) throw buildError(`duplicate name for build stage: "${name}"`, at);
      }
      const base = words[0] as string;
      if (base === '') throw buildError('FROM: the base image name is empty (an ARG without a value?)', at);
      stages.push({ index: stages.length, name, from: ins, base, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (!current) {
      if (ins.keyword !== 'ARG') throw buildError(`no build stage in current context: ${ins.keyword} must come after FROM (only ARG may precede the first FROM)`, at);
      metaArgs.push(ins);
      continue;
    }
    current.instructions.push(ins);
  }
  if (stages.length === 0) throw buildError('the Dockerfile has no FROM instruction', { file: df.file, line: 1 });
  return { metaArgs, stages };
}

/** Finds a stage by name (case-insensitive) or index, among those before `before`. */
export function findStage(stages: readonly StagePlan[], ref: string, before: number): StagePlan | undefined {
  const lower = ref.toLowerCase();
  const byName = stages.find((s) => s.index < before && s.name === lower);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const s = stages[Number(ref)];
    return s && s.index < before ? s : undefined;
  }
  return undefined;
}

/** The stages the target depends on (FROM <stage>, COPY --from=<stage>), the target included. */
export function neededStages(plan: BuildPlan, targetIndex: number, metaVars: VarLookup, escape: string): Set<number> {
  const need = new Set<number>();
  const visit = (i: number): void => {
    if (need.has(i)) return;
    need.add(i);
    const s = plan.stages[i] as StagePlan;
    const fromStage = findStage(plan.stages, s.base, i);
    if (fromStage) visit(fromStage.index);
    for (const ins of s.instructions) {
      if (ins.keyword !== 'COPY') continue;
      const from = flagValue(ins, 'from');
      if (from === undefined) continue;
      const dep = findStage(plan.stages, expandWord(from, metaVars, escape), i);
      if (dep) visit(dep.index);
    }
  };
  visit(targetIndex);
  return need;
}
