import { afterEach, describe, expect, it, vi } from 'vitest';
import { normalizeArgv, parseCommand, renderHelp, type CommandSpec, type FlagSpecs } from '../../../src/cli/args.js';
import { CliError } from '../../../src/cli/errors.js';

const flags = {
  output: { type: 'string', short: 'o', description: 'format' },
  wait: { type: 'boolean', default: true, description: 'wait' },
  filename: { type: 'string', short: 'f', multiple: true, description: 'files', valueName: 'PATH' },
  help: { type: 'boolean', short: 'h', description: 'help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = { name: 'demo', usage: 'berth demo KIND [NAME]', summary: 'A demo.', flags, positionals: { min: 1, max: 2 } };

afterEach(() => vi.restoreAllMocks());

describe('normalizeArgv', () => {
  it('turns --flag=true|false into parseArgs spellings for booleans only', () => {
    expect(normalizeArgv(['--wait=false', '--wait=TRUE', '--output=yaml'], flags)).toEqual(['--no-wait', '--wait', '--output=yaml']);
  });

  it('splits -o=yaml for short options that take a value', () => {
    expect(normalizeArgv(['-o=json', '-h'], flags)).toEqual(['-o', 'json', '-h']);
  });

  it('leaves everything after -- alone', () => {
    expect(normalizeArgv(['--', '--wait=false'], flags)).toEqual(['--', '--wait=false']);
  });

  it('rejects a boolean given something other than true or false', () => {
    expect(() => normalizeArgv(['--wait=maybe'], flags)).toThrow(/invalid value "maybe" for --wait/);
  });
});

describe('parseCommand', () => {
  it('parses typed values, defaults and positionals', () => {
    const parsed = parseCommand(spec, ['containers', 'web', '-owide', '-f', 'a.yaml', '-f', 'b.yaml', '--wait=false']);
    expect(parsed?.positionals).toEqual(['containers', 'web']);
    expect(parsed?.values.output).toBe('wide');
    expect(parsed?.values.filename).toEqual(['a.yaml', 'b.yaml']);
    expect(parsed?.values.wait).toBe(false);
    expect(parseCommand(spec, ['containers'])?.values.wait).toBe(true);
  });

  it('prints help and returns undefined for --help, even without the required arguments', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(parseCommand(spec, ['--help'])).toBeUndefined();
    expect(String(write.mock.calls[0]?.[0])).toContain('Usage: berth demo KIND [NAME]');
  });

  it('names an unknown flag in kubectl words', () => {
    expect(() => parseCommand(spec, ['x', '--bogus'])).toThrow(new CliError("unknown flag: --bogus. See 'berth demo --help'."));
  });

  it('reports a flag without its value', () => {
    expect(() => parseCommand(spec, ['x', '-o'])).toThrow(/argument missing/);
  });

  it('enforces the number of positionals', () => {
    expect(() => parseCommand(spec, [])).toThrow(/missing arguments: usage: berth demo KIND \[NAME\]/);
    expect(() => parseCommand(spec, ['a', 'b', 'c'])).toThrow(/unexpected argument "c"/);
  });
});

describe('renderHelp', () => {
  it('lists every flag with its short form, value name and default', () => {
    const help = renderHelp(spec);
    expect(help).toContain('A demo.');
    expect(help).toMatch(/-o, --output VALUE\s+format/);
    expect(help).toMatch(/-f, --filename PATH\s+files/);
    expect(help).toMatch(/--wait\s+wait \(default true\)/);
  });
});
