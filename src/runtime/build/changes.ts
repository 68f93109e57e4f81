import type { ConfigChanges, ContainerConfig } from '../images/schema.js';
import { buildError } from './errors.js';
import { InstructionError, listArgs, parseKeyValues, parsePorts, validateSignal } from './instructions.js';
import { parseDockerfile } from './parser.js';
import { DEFAULT_SHELL, envMap } from './state.js';
import { expandWord, expandWords, WordError } from './words.js';

/** Instructions `docker commit --change` and `docker import --change` accept. */
const CHANGE_INSTRUCTIONS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL']);

/**
 * Parses `--change` values (Dockerfile syntax, one instruction each) into config changes,
 * against the config they will apply to (for ENV substitution and ENTRYPOINT resetting CMD).
 */
export function parseConfigChanges(changes: readonly string[], base: ContainerConfig = {}): ConfigChanges {
  const out: ConfigChanges = {};
  const env = envMap(base.Env);
  let cmdSet = false;
  changes.forEach((text, n) => {
    const file = `--change[${n}]`;
    const df = parseDockerfile(text, file);
    for (const ins of df.instructions) {
      const at = { file, line: ins.line, instruction: ins.keyword };
      if (!CHANGE_INSTRUCTIONS.has(ins.keyword)) throw buildError(`${ins.keyword} is not a valid change command (use one of ${[...CHANGE_INSTRUCTIONS].join(', ')})`, at);
      try {
        const argv = (): string[] => ins.json ?? [...DEFAULT_SHELL, ins.args.trim()];
        switch (ins.keyword) {
          case 'CMD':
            out.Cmd = argv();
            cmdSet = true;
            break;
          case 'ENTRYPOINT':
            out.Entrypoint = argv();
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
          case 'EXPOSE':
            out.ExposedPorts = [...(out.ExposedPorts ?? []), ...parsePorts(expandWords(ins.args, env, df.escape))];
            break;
          case 'VOLUME':
            out.Volumes = [...(out.Volumes ?? []), ...listArgs(ins, env, df.escape)];
            break;
          case 'USER':
            out.User = expandWord(ins.args.trim(), env, df.escape);
            break;
          case 'WORKDIR': {
            const dir = expandWord(ins.args.trim(), env, df.escape);
            out.WorkingDir = dir.startsWith('/') ? dir : `${(out.WorkingDir ?? base.WorkingDir ?? '/').replace(/\/$/, '')}/${dir}`;
            break;
          }
          case 'STOPSIGNAL':
            out.StopSignal = validateSignal(expandWord(ins.args.trim(), env, df.escape));
            break;
          case 'ONBUILD':
            throw new InstructionError('ONBUILD is not supported in --change by berth (build an image with ONBUILD instead)');
        }
      } catch (e) {
        if (e instanceof InstructionError || e instanceof WordError) throw buildError(e.message, at);
        throw e;
      }
    }
  });
  return out;
}
