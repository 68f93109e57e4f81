import { parseArgs } from 'node:util';
import { CliError } from './errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  /** Shown in --help. */
  description: string;
  /** Placeholder shown in --help, e.g. FILE. */
  valueName?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface CommandSpec<F extends FlagSpecs> {
  name: string;
  usage: string;
  summary: string;
  flags: F;
  /** How many positionals the command takes; max undefined means any number. */
  positionals: { min: number; max?: number };
  examples?: string[];
}

/** Flags every client command understands. */
export const clientFlags = {
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: $KUBECONFIG, <data-dir>/kubeconfig, ~/.kube/config)' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  context: { type: 'string', valueName: 'NAME', description: 'kubeconfig context to use' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

export const namespaceFlag = {
  namespace: { type: 'string', short: 'n', valueName: 'NS', description: 'namespace (default: the context namespace, else "default")' },
} as const satisfies FlagSpecs;

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;

export type FlagValues<F extends FlagSpecs> = { [K in keyof F]?: ValueOf<F[K]> };

export interface Parsed<F extends FlagSpecs> {
  values: FlagValues<F>;
  positionals: string[];
}

/**
 * kubectl style spellings parseArgs does not take: `--flag=true|false` for booleans
 * and `-o=yaml` for short options with a value.
 */
export function normalizeArgv(argv: readonly string[], flags: FlagSpecs): string[] {
  const out: string[] = [];
  const shortString = new Set(Object.values(flags).filter((f) => f.type === 'string' && f.short).map((f) => f.short));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^--([^=]+)=(.*)$/s.exec(arg);
    if (long && flags[long[1] as string]?.type === 'boolean') {
      const value = (long[2] as string).toLowerCase();
      if (value === 'true') out.push(`--${long[1]}`);
      else if (value === 'false') out.push(`--no-${long[1]}`);
      else throw new CliError(`invalid value "${long[2]}" for --${long[1]}: want true or false`);
      continue;
    }
    const short = /^-([a-zA-Z])=(.*)$/s.exec(arg);
    if (short && shortString.has(short[1])) {
      out.push(`-${short[1]}`, short[2] as string);
      continue;
    }
    out.push(arg);
  }
  return out;
}

function parseError(err: unknown, commandName: string): CliError {
  const e = err as { code?: string; message?: string };
  const hint = `See 'berth ${commandName} --help'.`;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
    return new CliError(`unknown flag: ${flag}. ${hint}`);
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return new CliError(`${(e.message ?? 'invalid flag').replace(/^Option/, 'flag')}. ${hint}`);
  }
  return new CliError(`${e.message ?? String(err)} ${hint}`);
}

/** Parses argv for one command; returns undefined after printing help for -h/--help. */
export function parseCommand<F extends FlagSpecs>(spec: CommandSpec<F>, argv: readonly string[]): Parsed<F> | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
    if (f.default !== undefined) (options[name] as { default?: string | boolean }).default = f.default;
  }
  let result: { values: Record<string, unknown>; positionals: string[] };
  try {
    result = parseArgs({ args: normalizeArgv(argv, spec.flags), options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    throw parseError(err, spec.name);
  }
  if (result.values.help === true) {
    process.stdout.write(renderHelp(spec));
    return undefined;
  }
  const { min, max } = spec.positionals;
  const n = result.positionals.length;
  if (n < min) throw new CliError(`missing arguments: usage: ${spec.usage}. See 'berth ${spec.name} --help'.`);
  if (max !== undefined && n > max) {
    throw new CliError(`unexpected argument "${result.positionals[max]}": usage: ${spec.usage}. See 'berth ${spec.name} --help'.`);
  }
  return { values: result.values as FlagValues<F>, positionals: result.positionals };
}

export function renderHelp<F extends FlagSpecs>(spec: CommandSpec<F>): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const value = f.type === 'string' ? ` ${f.valueName ?? 'VALUE'}` : '';
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${value}`;
    const def = f.default !== undefined && f.default !== '' ? ` (default ${String(f.default)})` : '';
    return [left, `${f.description}${def}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  const lines = [spec.summary, '', `Usage: ${spec.usage}`, '', 'Flags:'];
  for (const [l, r] of rows) lines.push(`  ${l.padEnd(width)}  ${r}`);
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}
