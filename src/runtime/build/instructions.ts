import { expandWord, expandWords, splitRaw, type VarLookup } from './words.js';
import { parseDockerfile, type Instruction } from './parser.js';

/** Thrown for bad arguments of one instruction; the builder adds the file and line. */
export class InstructionError extends Error {}

/**
 * ENV / LABEL / ARG arguments: `key=value ...` pairs (quotes and escapes honoured), or the
 * legacy `ENV key value with spaces` form. Values are expanded against `env` as it was
 * before the instruction (Docker: `ENV a=1 b=$a` sees the old a).
 */
export function parseKeyValues(ins: Instruction, env: VarLookup, escape: string, opts: { expand: boolean; allowNoValue?: boolean }): Array<[string, string | undefined]> {
  const words = splitRaw(ins.args, escape);
  if (words.length === 0) throw new InstructionError(`${ins.keyword} requires at least one argument`);
  const expand = (w: string): string => (opts.expand ? expandWord(w, env, escape) : expandWord(w, new Map(), escape));
  const first = words[0] as string;
  if (!first.includes('=') && !opts.allowNoValue) {
    // legacy form: the first word is the key, the rest of the line the value
    if (words.length < 2) throw new InstructionError(`${ins.keyword} needs a value: ${ins.keyword} ${first} <value> or ${ins.keyword} ${first}=<value>`);
    const rest = ins.args.trim().slice(first.length).trim();
    return [[expand(first), expand(rest)]];
  }
  const out: Array<[string, string | undefined]> = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) {
      if (!opts.allowNoValue) throw new InstructionError(`syntax error - can't find = in "${w}". Must be of the form: name=value`);
      out.push([expand(w), undefined]);
      continue;
    }
    const key = expand(w.slice(0, eq));
    if (key === '') throw new InstructionError(`${ins.keyword} names can not be blank`);
    out.push([key, expand(w.slice(eq + 1))]);
  }
  return out;
}

/** Words of a shell-form or JSON-form list (COPY, ADD, VOLUME), expanded. */
export function listArgs(ins: Instruction, env: VarLookup, escape: string): string[] {
  if (ins.json) return ins.json.map((w) => expandWord(w, env, escape));
  return expandWords(ins.args, env, escape);
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** EXPOSE 80 8000-8002/udp -> ["80/tcp", "8000/udp", "8001/udp", "8002/udp"]. */
export function parsePorts(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/([a-zA-Z]+))?$/.exec(w);
    if (!m) throw new InstructionError(`invalid port "${w}": want PORT[-END][/PROTOCOL]`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (!PROTOCOLS.has(proto)) throw new InstructionError(`invalid protocol "${m[3]}" in "${w}": want tcp, udp or sctp`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start < 1 || end > 65535 || end < start) throw new InstructionError(`invalid port range "${w}"`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/** Go duration ("30s", "1m30s", "500ms") in nanoseconds. */
export function parseDuration(text: string, flag: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * (units[m[2] as string] as number);
    consumed += m[0].length;
  }
  if (consumed !== text.length || text === '') throw new InstructionError(`--${flag}: invalid duration "${text}" (e.g. 30s, 1m30s)`);
  return Math.round(total);
}

const SIGNALS = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT',
  'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS',
];

export function validateSignal(sig: string): string {
  if (/^\d+$/.test(sig) && Number(sig) > 0 && Number(sig) < 65) return sig;
  const name = sig.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.includes(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name)) return sig;
  throw new InstructionError(`invalid signal "${sig}"`);
}

/** ONBUILD's trigger, checked now (Docker refuses these when the instruction is read, not when it fires). */
export function onbuildTrigger(args: string, file: string): string {
  const trigger = args.trim();
  const word = (/^(\S+)/.exec(trigger)?.[1] ?? '').toUpperCase();
  if (word === '') throw new InstructionError('ONBUILD requires an instruction');
  if (word === 'ONBUILD') throw new InstructionError("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (word === 'FROM' || word === 'MAINTAINER') throw new InstructionError(`${word} isn't allowed as an ONBUILD trigger`);
  parseDockerfile(trigger, file); // rejects unknown instructions
  return trigger;
}

export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** HEALTHCHECK NONE | [--interval --timeout --start-period --start-interval --retries] CMD command. */
export function parseHealthcheck(ins: Instruction, shell: readonly string[]): Healthcheck {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.args.trim());
  const kind = (m?.[1] ?? '').toUpperCase();
  if (kind === 'NONE') {
    if (ins.flags.length || (m?.[2] ?? '') !== '') throw new InstructionError('HEALTHCHECK NONE takes no other arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw new InstructionError(`unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (try CMD or NONE)`);
  const rest = m?.[2] ?? '';
  if (rest.trim() === '') throw new InstructionError('HEALTHCHECK CMD needs a command');
  const hc: Healthcheck = { Test: [] };
  const json = rest.trim().startsWith('[') ? (() => {
    try {
      const v: unknown = JSON.parse(rest.trim());
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
    } catch {
      return undefined;
    }
  })() : undefined;
  hc.Test = json ? ['CMD', ...json] : ['CMD-SHELL', rest.trim()];
  void shell;
  for (const f of ins.flags) {
    const v = f.value ?? '';
    switch (f.name) {
      case 'interval': hc.Interval = parseDuration(v, f.name); break;
      case 'timeout': hc.Timeout = parseDuration(v, f.name); break;
      case 'start-period': hc.StartPeriod = parseDuration(v, f.name); break;
      case 'start-interval': hc.StartInterval = parseDuration(v, f.name); break;
      case 'retries': {
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new InstructionError(`--retries must be at least 1, got "${v}"`);
        hc.Retries = Number(v);
        break;
      }
      default: throw new InstructionError(`unknown flag: --${f.name}`);
    }
  }
  return hc;
}

/** Flags each instruction accepts (Dockerfile reference); anything else is an error. */
export const ALLOWED_FLAGS: Record<string, readonly string[]> = {
  FROM: ['platform'],
  RUN: ['network', 'mount', 'security'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

export function flagValue(ins: Instruction, name: string): string | undefined {
  const f = ins.flags.filter((x) => x.name === name);
  return f.length ? (f[f.length - 1]?.value ?? '') : undefined;
}
