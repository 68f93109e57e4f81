import { describe, expect, it } from 'vitest';
import { IgnoreMatcher, parseIgnoreFile } from '../../../src/util/dockerignore.js';
import { parseDuration, parseHealthcheck, parseKeyValues, parsePorts, validateSignal } from '../../../src/runtime/build/instructions.js';
import { parseDockerfile, type Instruction } from '../../../src/runtime/build/parser.js';
import { neededStages, planStages } from '../../../src/runtime/build/stages.js';

const one = (line: string): Instruction => parseDockerfile(`FROM a\n${line}\n`).instructions[1] as Instruction;

describe('ENV / LABEL / ARG arguments', () => {
  const env = new Map([['X', 'old']]);
  it('reads key=value pairs with quotes, escapes and substitution against the previous values', () => {
    expect(parseKeyValues(one('ENV A="hello world" B=$X C=x\\ y X=new D=${X}'), env, '\\', { expand: true })).toEqual([
      ['A', 'hello world'], ['B', 'old'], ['C', 'x y'], ['X', 'new'], ['D', 'old'],
    ]);
  });
  it('reads the legacy `ENV key value with spaces` form', () => {
    expect(parseKeyValues(one('ENV GREETING hello  big world'), env, '\\', { expand: true })).toEqual([['GREETING', 'hello  big world']]);
  });
  it('allows ARG names without a value', () => {
    expect(parseKeyValues(one('ARG A B=2'), env, '\\', { expand: true, allowNoValue: true })).toEqual([['A', undefined], ['B', '2']]);
  });
  it('rejects a pair without = and a blank name', () => {
    expect(() => parseKeyValues(one('ENV A=1 B'), env, '\\', { expand: true })).toThrow(/can't find = in "B"/);
    expect(() => parseKeyValues(one('LABEL =x'), env, '\\', { expand: true })).toThrow(/names can not be blank/);
  });
});

describe('EXPOSE, STOPSIGNAL, HEALTHCHECK', () => {
  it('expands port ranges and defaults to tcp', () => {
    expect(parsePorts(['80', '53/udp', '8000-8002'])).toEqual(['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
    expect(() => parsePorts(['80/xyz'])).toThrow(/invalid protocol/);
    expect(() => parsePorts(['http'])).toThrow(/invalid port "http"/);
  });
  it('validates signals', () => {
    expect(validateSignal('SIGQUIT')).toBe('SIGQUIT');
    expect(validateSignal('9')).toBe('9');
    expect(() => validateSignal('SIGNOPE')).toThrow(/invalid signal/);
  });
  it('parses HEALTHCHECK options and forms', () => {
    expect(parseHealthcheck(one('HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost'), ['/bin/sh', '-c'])).toEqual({
      Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9, Retries: 2,
    });
    expect(parseHealthcheck(one('HEALTHCHECK CMD ["true"]'), [])).toEqual({ Test: ['CMD', 'true'] });
    expect(parseHealthcheck(one('HEALTHCHECK NONE'), [])).toEqual({ Test: ['NONE'] });
    expect(() => parseHealthcheck(one('HEALTHCHECK --interval=soon CMD x'), [])).toThrow(/--interval: invalid duration/);
    expect(parseDuration('1m30s', 'x')).toBe(90e9);
  });
});

describe('.dockerignore', () => {
  const m = new IgnoreMatcher(parseIgnoreFile('# comment\n*.log\nsecret/\n**/tmp\nbuild\n!build/keep.txt\n/docs/*.md\n'));
  it.each([
    ['app.log', true],
    ['sub/app.log', false],
    ['secret/key', true],
    ['a/b/tmp', true],
    ['tmp/x', true],
    ['build/out.o', true],
    ['build/keep.txt', false],
    ['docs/readme.md', true],
    ['docs/deep/readme.md', false],
    ['src/main.c', false],
  ])('%s excluded: %s', (path, excluded) => expect(m.excludes(path)).toBe(excluded));
});

describe('stages', () => {
  const df = parseDockerfile('ARG BASE=busybox\nFROM $BASE AS build\nRUN x\nFROM scratch AS other\nFROM busybox\nCOPY --from=build /a /a\n');
  it('expands FROM with global ARGs and finds the stages a target needs', () => {
    const plan = planStages(df, new Map([['BASE', 'busybox']]));
    expect(plan.metaArgs.map((i) => i.keyword)).toEqual(['ARG']);
    expect(plan.stages.map((s) => [s.name, s.base])).toEqual([['build', 'busybox'], ['other', 'scratch'], [undefined, 'busybox']]);
    expect([...neededStages(plan, 2, new Map(), '\\')].sort()).toEqual([0, 2]);
  });
  it('rejects instructions before FROM and bad stage names', () => {
    expect(() => planStages(parseDockerfile('RUN x\nFROM a\n'), new Map())).toThrow(/Dockerfile:1: RUN: no build stage/);
    expect(() => planStages(parseDockerfile('FROM a AS 1x\n'), new Map())).toThrow(/invalid name for build stage/);
    expect(() => planStages(parseDockerfile('FROM a AS x\nFROM b AS X\n'), new Map())).toThrow(/Dockerfile:2: FROM: duplicate name/);
  });
});
