import { posix } from 'node:path';
import type { ConfigChanges, ContainerConfig } from '../images/schema.js';
import { buildError } from './errors.js';
import { InstructionError, listArgs, onbuildTrigger, parseKeyValues, parsePorts, validateSignal } from './instructions.js';
import { parseDockerfile, type Instruction } from './parser.js';
import { DEFAULT_SHELL, envMap } from './state.js';
import { expandWord, expandWords, WordError } from './words.js';

/** Instructions `docker commit --change` and `docker import --change` accept. */
const CHANGE_INSTRUCTIONS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL']);

export interface ChangeSource {
  /** How errors name a change: `${label}[n]:line: INSTRUCTION: ...` (default --change). */
  label?: string;
}

/**
 * Parses `--change` values (Dockerfile syntax, parsed by the build's parser) into config changes,
 * against the config they will apply to (ENV substitution, SHELL for the shell form, relative
 * WORKDIR, and ENTRYPOINT resetting CMD as it does in a Dockerfile). Throws on the first bad
 * change, naming it and its instruction, before anything is applied.
 */
export function parseConfigChanges(changes: readonly string[], base: ContainerConfig = {}, src: ChangeSource = {}): ConfigChanges {
  const out: ConfigChanges = {};
  const env = envMap(base.Env);
  const shell = Array.isArray(base.Shell) && base.Shell.length > 0 ? (base.Shell as string[]) : DEFAULT_SHELL;
  let cmdSet = false;
  changes.forEach((text, n) => {
    const file = `${src.label ?? '--change'}[${n}]`;
    const df = parseDockerfile(text, file);
    if (df.instructions.length === 0) throw buildError('empty change: want one Dockerfile instruction, e.g. CMD ["sh"]', { file, line: 1 });
    for (const ins of df.instructions) {
      const at = { file, line: ins.line, instruction: ins.keyword };
      if (!CHANGE_INSTRUCTIONS.has(ins.keyword)) throw buildError(`${ins.keyword} is not a valid change command (use one of ${[...CHANGE_INSTRUCTIONS].join(', ')})`, at);
      try {
        const flag = ins.flags[0];
        if (flag) throw new InstructionError(`unknown flag: --${flag.name}`);
        const word = (what: string): string => {
          const v = expandWord(ins.args.trim(), env, df.escape);
          if (v === '') throw new InstructionError(`${ins.keyword} requires ${what}`);
          return v;
        };
        switch (ins.keyword) {
          case 'CMD':
            out.Cmd = commandArgs(ins, shell);
            cmdSet = true;
            break;
          case 'ENTRYPOINT':
            out.Entrypoint = commandArgs(ins, shell);
            if (!cmdSet) out.Cmd = null;
            break;
          case 'ENV':
            for (const [k, v] of parseKeyValues(ins, env, df.escape, { expand: true })) {
              env.set(k, v ?? '');
              out.Env = [...(out.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v ?? ''}`];
            }
            break;
          case 'LABEL':
            out.Labels = { ...(out.Labels ?? {}) };
            for (const [k, v] of parseKeyValues(ins, env, df.escape, { expand: true })) out.Labels[k] = v ?? '';
            break;
          case 'EXPOSE': {
            const ports = parsePorts(expandWords(ins.args, env, df.escape));
            if (ports.length === 0) throw new InstructionError('EXPOSE requires at least one argument');
            out.ExposedPorts = [...(out.ExposedPorts ?? []), ...ports];
            break;
          }
          case 'VOLUME': {
            const vols = listArgs(ins, env, df.escape).filter((v) => v !== '');
            if (vols.length === 0) throw new InstructionError('VOLUME requires at least one argument');
            out.Volumes = [...(out.Volumes ?? []), ...vols];
            break;
          }
          case 'USER':
            out.User = word('an argument');
            break;
          case 'WORKDIR':
            out.WorkingDir = posix.resolve(out.WorkingDir ?? (base.WorkingDir || '/'), word('an argument'));
            break;
          case 'STOPSIGNAL':
            out.StopSignal = validateSignal(word('a signal'));
            break;
          case 'ONBUILD':
            out.OnBuild = [...(out.OnBuild ?? []), onbuildTrigger(ins.args, file)];
            break;
        }
      } catch (e) {
        if (e instanceof InstructionError || e instanceof WordError) throw buildError(e.message, at);
        throw e;
      }
    }
  });
  return out;
}

/** CMD / ENTRYPOINT: the exec form as written, the shell form through the image's SHELL. */
function commandArgs(ins: Instruction, shell: readonly string[]): string[] {
  if (ins.json) return ins.json;
  const command = ins.args.trim();
  if (command === '') throw new InstructionError(`${ins.keyword} requires a command (${ins.keyword} [] clears it)`);
  return [...shell, command];
}
