import { describe, expect, it } from 'vitest';
import { expandWord, expandWords, splitRaw } from '../../../src/runtime/build/words.js';

const env = new Map([
  ['A', 'alpha'],
  ['EMPTY', ''],
  ['SP', 'two words'],
]);

describe('variable substitution (Docker shell lexer)', () => {
  it.each([
    ['$A', 'alpha'],
    ['${A}', 'alpha'],
    ['pre-${A}-post', 'pre-alpha-post'],
    ['$A_x', ''],
    ['${A}_x', 'alpha_x'],
    ['$UNSET', ''],
    ['${UNSET:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${UNSET-def}', 'def'],
    ['${A:-def}', 'alpha'],
    ['${A:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:+alt}', ''],
    ['${UNSET:-${A}}', 'alpha'],
    ['\\$A', '$A'],
    ['\\${A}', '${A}'],
    ["'$A'", '$A'],
    ['"$A"', 'alpha'],
    ['"\\$A"', '$A'],
    ['"a\\nb"', 'a\\nb'],
    ['$', '$'],
    ['a$ b', 'a$ b'],
  ])('%s -> %s', (input, out) => expect(expandWord(input, env)).toBe(out));

  it('uses the escape directive character', () => {
    expect(expandWord('`$A', env, '`')).toBe('$A');
    expect(expandWord('c:\\dir', env, '`')).toBe('c:\\dir');
  });

  it('fails on :? with the message, and on bad syntax', () => {
    expect(() => expandWord('${UNSET:?must be set}', env)).toThrow('UNSET: must be set');
    expect(() => expandWord('${A', env)).toThrow(/missing '}'/);
    expect(() => expandWord('${A:=x}', env)).toThrow(/unsupported modifier/);
    expect(() => expandWord('"open', env)).toThrow(/double-quote/);
  });

  it('splits words after expansion only on unquoted whitespace', () => {
    expect(expandWords('a "b c" $SP', env)).toEqual(['a', 'b c', 'two', 'words']);
    expect(expandWords('"$SP" x', env)).toEqual(['two words', 'x']);
    expect(expandWords("'' x", env)).toEqual(['', 'x']);
  });

  it('records which variables a word used', () => {
    const used = new Set<string>();
    expandWord('${A}-$B', env, '\\', used);
    expect([...used]).toEqual(['A', 'B']);
  });

  it('splits raw words keeping quotes (for key=value parsing)', () => {
    expect(splitRaw('a="b c" d=e\\ f')).toEqual(['a="b c"', 'd=e\\ f']);
  });
});
