/**
 * The Dockerfile instructions that only change the image's config (ENV, ARG, LABEL, MAINTAINER,
 * EXPOSE, VOLUME, USER, STOPSIGNAL, SHELL, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD): each updates the
 * stage and answers the text its history entry and cache key are made of.
 */
import type { Instruction } from './parser.js';
import { InstructionError, listArgs, onbuildTrigger, parseHealthcheck, parseKeyValues, parsePorts, validateSignal } from './instructions.js';
import { DEFAULT_SHELL, setEnv, type StageState } from './state.js';
import { expandWord, expandWords } from './words.js';

/** The build's ARG values: given with --build-arg (consumed ones noted) and declared before the first FROM. */
export interface ArgScope {
  buildArgs: Map<string, string>;
  consumed: Set<string>;
  metaDeclared: Map<string, string | undefined>;
}

/** CMD / ENTRYPOINT / RUN argv: exec form as is, shell form through the stage's SHELL. */
export function commandArgs(st: StageState, ins: Instruction): string[] {
  if (ins.json) return ins.json;
  return [...(st.config.Shell ?? DEFAULT_SHELL), ins.args.trim()];
}

export const METADATA_INSTRUCTIONS = new Set(['ENV', 'ARG', 'LABEL', 'MAINTAINER', 'EXPOSE', 'VOLUME', 'USER', 'STOPSIGNAL', 'SHELL', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK', 'ONBUILD']);

/** Applies a metadata instruction to the stage; answers its history text (without the #(nop) prefix). */
export function applyMetadata(st: StageState, ins: Instruction, vars: Map<string, string>, esc: string, scope: ArgScope, dockerfile: string): string {
  const c = st.config;
  switch (ins.keyword) {
    case 'ENV': {
      const pairs = parseKeyValues(ins, vars, esc, { expand: true });
      for (const [k, v] of pairs) setEnv(st, k, v ?? '');
      return `ENV ${pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ')}`;
    }
    case 'ARG': {
      const pairs = parseKeyValues(ins, vars, esc, { expand: true, allowNoValue: true });
      for (const [k, def] of pairs) {
        let v = def;
        if (scope.buildArgs.has(k)) {
          v = scope.buildArgs.get(k);
          scope.consumed.add(k);
        } else if (v === undefined && scope.metaDeclared.has(k)) v = scope.metaDeclared.get(k);
        st.args.set(k, v);
      }
      return `ARG ${pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}`;
    }
    case 'LABEL': {
      const pairs = parseKeyValues(ins, vars, esc, { expand: true });
      c.Labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of pairs) c.Labels[k] = v ?? '';
      return `LABEL ${pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ')}`;
    }
    case 'MAINTAINER': {
      st.author = expandWord(ins.args.trim(), new Map(), esc);
      return `MAINTAINER ${st.author}`;
    }
    case 'EXPOSE': {
      const ports = parsePorts(expandWords(ins.args, vars, esc));
      if (ports.length === 0) throw new InstructionError('EXPOSE requires at least one argument');
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of ports) c.ExposedPorts[p] = {};
      return `EXPOSE ${ports.join(' ')}`;
    }
    case 'VOLUME': {
      const vols = listArgs(ins, vars, esc).filter((v) => v !== '');
      if (vols.length === 0) throw new InstructionError('VOLUME requires at least one argument');
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of vols) c.Volumes[v] = {};
      return `VOLUME [${vols.join(' ')}]`;
    }
    case 'USER': {
      const user = expandWord(ins.args.trim(), vars, esc);
      if (user === '') throw new InstructionError('USER requires an argument');
      c.User = user;
      return `USER ${user}`;
    }
    case 'STOPSIGNAL': {
      const sig = validateSignal(expandWord(ins.args.trim(), vars, esc));
      c.StopSignal = sig;
      return `STOPSIGNAL ${sig}`;
    }
    case 'SHELL': {
      if (!ins.json || ins.json.length === 0) throw new InstructionError('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/sh", "-c"]');
      c.Shell = ins.json;
      return `SHELL ${JSON.stringify(ins.json)}`;
    }
    case 'CMD': {
      c.Cmd = commandArgs(st, ins);
      st.cmdSet = true;
      return `CMD ${JSON.stringify(c.Cmd)}`;
    }
    case 'ENTRYPOINT': {
      c.Entrypoint = ins.args.trim() === '' && !ins.json ? null : commandArgs(st, ins);
      if (!st.cmdSet) c.Cmd = null; // Docker: ENTRYPOINT resets a CMD inherited from the base image
      return `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`;
    }
    case 'HEALTHCHECK': {
      const hc = parseHealthcheck(ins, c.Shell ?? DEFAULT_SHELL);
      c.Healthcheck = hc;
      return `HEALTHCHECK ${JSON.stringify(hc)}`;
    }
    case 'ONBUILD': {
      const trigger = onbuildTrigger(ins.args, dockerfile);
      c.OnBuild = [...(c.OnBuild ?? []), trigger];
      return `ONBUILD ${trigger}`;
    }
    default:
      throw new InstructionError(`${ins.keyword} is not a metadata instruction`);
  }
}
