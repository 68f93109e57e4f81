import { describe, expect, it } from 'vitest';
import { execQueryString, parseExecQuery } from '../../../src/api/exec-query.js';
import { exitCodeOf, exitStatus } from '../../../src/api/remotecommand.js';

const parse = (query: string) => parseExecQuery(new URLSearchParams(query));
const fieldOf = (query: string) => {
  try {
    parse(query);
  } catch (e) {
    return (e as { field: string }).field;
  }
  return undefined;
};

describe('exec query parameters', () => {
  it('reads PodExecOptions as Kubernetes does: repeated command, ParseBool flags, stdout and stderr on by default', () => {
    expect(parse('command=sh&command=-c&command=echo%20hi&stdin=1&tty=F')).toEqual({
      command: ['sh', '-c', 'echo hi'],
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
      env: [],
    });
    // a terminal has one output stream: kubelet drops stderr
    expect(parse('command=sh&tty=true&stderr=true')).toMatchObject({ tty: true, stderr: false });
    expect(parse('command=env&env=A=1&env=B=2&user=1000&workingDir=/tmp')).toMatchObject({ env: ['A=1', 'B=2'], user: '1000', workingDir: '/tmp' });
  });

  it('names the field that is wrong', () => {
    expect(fieldOf('stdout=true')).toBe('command');
    expect(fieldOf('command=x&stdin=maybe')).toBe('stdin');
    expect(fieldOf('command=x&stdout=false&stderr=false')).toBe('stdout');
    expect(fieldOf('command=x&workingDir=relative')).toBe('workingDir');
    expect(fieldOf('command=x&env=A=1&env=novalue')).toBe('env[1]');
  });

  it('round-trips through the query string a client sends', () => {
    const q = { command: ['sh', '-c', 'a && b'], stdin: true, stdout: true, stderr: false, tty: true, env: ['X=1'] };
    expect(parse(execQueryString(q))).toEqual(q);
  });

  it("writes and reads kubelet's exit statuses", () => {
    expect(exitCodeOf(exitStatus(0))).toBe(0);
    expect(exitCodeOf(exitStatus(42))).toBe(42);
    expect(exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'boom' })).toBeUndefined();
  });
});
