import type { ContainerConfig, HistoryEntry } from '../images/schema.js';
import type { LayerInput } from '../images/store.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Build args every Dockerfile may use without declaring them (kept out of history and the cache key). */
export const PREDEFINED_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/** The image a stage is building, step by step. */
export interface StageState {
  index: number;
  name?: string;
  config: ContainerConfig & { Shell?: string[]; OnBuild?: string[] | null; Healthcheck?: unknown };
  layers: LayerInput[];
  history: HistoryEntry[];
  /** Cache chain: the base (image ID, scratch, stage) and every step since. */
  chain: string;
  /** ARGs declared in this stage, with their values (undefined: declared without a value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  architecture: string;
  os: string;
  author?: string;
  baseImageId?: string;
}

export function cloneState(s: StageState): StageState {
  return {
    ...s,
    config: structuredClone(s.config),
    layers: [...s.layers],
    history: structuredClone(s.history),
    args: new Map(s.args),
  };
}

export function envMap(env: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) m.set(e.slice(0, eq), e.slice(eq + 1));
    else m.set(e, '');
  }
  return m;
}

/** Variables for substitution: the stage's ARGs, overridden by ENV (Docker: ENV wins). */
export function substitutionVars(s: StageState): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [k, v] of s.args) if (v !== undefined) vars.set(k, v);
  for (const [k, v] of envMap(s.config.Env)) vars.set(k, v);
  return vars;
}

export function setEnv(s: StageState, key: string, value: string): void {
  const env = (s.config.Env ?? []).filter((e) => e !== key && !e.startsWith(`${key}=`));
  env.push(`${key}=${value}`);
  s.config.Env = env;
}
