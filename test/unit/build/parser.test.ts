import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../src/runtime/build/parser.js';

describe('Dockerfile parser', () => {
  it('reads instructions, comments and continuations with their first line', () => {
    const df = parseDockerfile(['# a comment', 'FROM busybox AS base', '', 'RUN echo a \\', '  # comment inside', '    b \\', '  c', 'cmd ["sh"]'].join('\n'));
    expect(df.instructions.map((i) => [i.keyword, i.line, i.args])).toEqual([
      ['FROM', 2, 'busybox AS base'],
      ['RUN', 4, 'echo a     b   c'],
      ['CMD', 8, '["sh"]'],
    ]);
    expect(df.instructions[2]?.json).toEqual(['sh']);
    expect(df.escape).toBe('\\');
  });

  it('takes the escape and syntax directives only at the top', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\n');
    expect(df.syntax).toBe('docker/dockerfile:1');
    expect(df.escape).toBe('`');
    expect(df.instructions[1]?.args).toBe('dir c:\\   && echo hi');
    const late = parseDockerfile('FROM x\n# escape=`\nRUN a \\\n b\n');
    expect(late.escape).toBe('\\');
    expect(late.instructions[1]?.args).toBe('a  b');
    const afterComment = parseDockerfile('# hello\n# escape=`\nFROM x\n');
    expect(afterComment.escape).toBe('\\');
  });

  it('rejects a bad escape directive and duplicate directives with the line', () => {
    expect(() => parseDockerfile('# escape=x\nFROM a\n')).toThrow(/^Dockerfile:1: invalid escape token 'x'/);
    expect(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a\n')).toThrow(/Dockerfile:2: only one escape parser directive/);
  });

  it('names the file and line of an unknown instruction', () => {
    expect(() => parseDockerfile('FROM a\nRUN true\n\nFOO bar\n', 'app/Dockerfile')).toThrow('app/Dockerfile:4: unknown instruction: FOO');
  });

  it('splits flags from arguments', () => {
    const df = parseDockerfile('FROM a\nCOPY --from=build --chown=app:app /out /app\nRUN --network=host echo hi\n');
    expect(df.instructions[1]?.flags).toEqual([{ name: 'from', value: 'build' }, { name: 'chown', value: 'app:app' }]);
    expect(df.instructions[1]?.args).toBe('/out /app');
    expect(df.instructions[2]?.flags).toEqual([{ name: 'network', value: 'host' }]);
  });

  it('falls back to the shell form when the JSON is not an array of strings', () => {
    const df = parseDockerfile('FROM a\nCMD [not json]\nENTRYPOINT ["a", 1]\nRUN ["echo", "hi there"]\n');
    expect(df.instructions[1]?.json).toBeUndefined();
    expect(df.instructions[2]?.json).toBeUndefined();
    expect(df.instructions[3]?.json).toEqual(['echo', 'hi there']);
  });

  it('reads heredocs for RUN and COPY, with <<- tab stripping and quoted delimiters', () => {
    const df = parseDockerfile(['FROM a', 'RUN <<EOF', 'echo one', 'echo two', 'EOF', 'COPY <<-"END" /x', '\tliteral $HOME', '\tEND', 'CMD ["x"]'].join('\n'));
    const run = df.instructions[1];
    expect(run?.heredocs).toEqual([{ name: 'EOF', content: 'echo one\necho two\n', expand: true }]);
    expect(df.instructions[2]?.heredocs).toEqual([{ name: 'END', content: 'literal $HOME\n', expand: false }]);
    expect(df.instructions[3]?.keyword).toBe('CMD');
    expect(df.instructions[3]?.line).toBe(9);
  });

  it('does not take << inside quotes or in other instructions as a heredoc', () => {
    const df = parseDockerfile('FROM a\nRUN echo "<<EOF"\nENV X=<<EOF\n');
    expect(df.instructions[1]?.heredocs).toEqual([]);
    expect(df.instructions[2]?.heredocs).toEqual([]);
  });

  it('reports an unterminated heredoc', () => {
    expect(() => parseDockerfile('FROM a\nRUN <<EOF\necho\n')).toThrow(/Dockerfile:2: RUN: unterminated heredoc <<EOF/);
  });

  it('keeps a trailing continuation at the end of the file and warns about empty continuation lines', () => {
    const df = parseDockerfile('FROM a\nRUN echo a \\\n\n  b\nRUN x \\');
    expect(df.instructions[1]?.args).toBe('echo a   b');
    expect(df.instructions[2]?.args).toBe('x');
    expect(df.warnings[0]).toMatch(/Dockerfile:2: empty continuation line/);
  });

  it('is case-insensitive for keywords and handles CRLF and a BOM', () => {
    const df = parseDockerfile('\uFEFFfrom a\r\nrun echo hi\r\n');
    expect(df.instructions.map((i) => i.keyword)).toEqual(['FROM', 'RUN']);
    expect(df.instructions[1]?.args).toBe('echo hi');
  });
});
