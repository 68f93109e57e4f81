/**
 * Logs (issue 17, deliver 12): one structured line per event at a settable level; a controller's
 * optimistic-concurrency conflict is a debug line (an ordinary retry), another failure an error
 * line, and neither carries more than one line of the error's message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiStatusError } from '../../../src/client/api-client.js';
import { Controller } from '../../../src/client/controller.js';
import { configureLogging, errorText, jsonLineToText, logFn, logger, parseLogLevel } from '../../../src/util/log.js';

afterEach(() => configureLogging({ level: 'info', format: 'json' }));

function capture(level: Parameters<typeof configureLogging>[0]['level'], format: 'json' | 'text' = 'json'): string[] {
  const lines: string[] = [];
  configureLogging({ level, format, write: (s) => lines.push(s) });
  return lines;
}

describe('logger', () => {
  it('writes one JSON line per event with level, time, component and message; below the level nothing', () => {
    const lines = capture('info');
    logger('apiserver').info({ url: 'https://x' }, 'API listening');
    logger('apiserver').debug('not shown');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(lines[0]!.trim().includes('\n')).toBe(false);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, component: 'apiserver', url: 'https://x', msg: 'API listening' });
  });

  it('text format: TIME LEVEL component: message key=value', () => {
    const lines = capture('debug', 'text');
    logFn('agent')('node registered', 'debug', { node: 'n1', note: 'with space' });
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ DEBUG agent: node registered node=n1 note="with space"\n$/);
    expect(jsonLineToText('not json')).toBe('not json');
  });

  it('levels are parsed and refused by name', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(() => parseLogLevel('loud')).toThrow(/log level must be one of/);
  });

  it('errorText keeps one line, capped', () => {
    expect(errorText(new Error('first\nHTTP-Code: 409\nBody: {...}\nHeaders: {...}'))).toBe('first');
    expect(errorText(new Error('x'.repeat(2000))).length).toBeLessThanOrEqual(513);
  });
});

describe('controller failures', () => {
  const run = async (err: Error): Promise<{ msg: string; level: string | undefined }[]> => {
    const seen: { msg: string; level: string | undefined }[] = [];
    let thrown = false;
    const c = new Controller({
      name: 'test',
      reconcile: async () => {
        if (thrown) return;
        thrown = true;
        throw err;
      },
      backoff: { baseMs: 1, maxMs: 1 },
      // the failure's line, not the per-reconcile debug line
      log: (msg, level) => void (/: reconciled \(\w+\)$/.test(msg) || seen.push({ msg, level })),
    });
    await c.start();
    c.enqueue('default/x');
    await expect.poll(() => seen.length).toBeGreaterThan(0);
    await c.stop();
    return seen;
  };

  it('an optimistic-concurrency conflict is a debug line, with no dump', async () => {
    const conflict = new ApiStatusError(409, { message: 'Operation cannot be fulfilled on containers.berth.dev "x": the object has been modified; please apply your changes to the latest version and try again', reason: 'Conflict', code: 409 } as never, 'update');
    const [line] = await run(conflict);
    expect(line!.level).toBe('debug');
    expect(line!.msg).toBe('test: default/x: Operation cannot be fulfilled on containers.berth.dev "x": the object has been modified; please apply your changes to the latest version and try again');
  });

  it('another failure is an error line', async () => {
    const [line] = await run(new Error('disk full\n    at somewhere'));
    expect(line).toEqual({ msg: 'test: default/x: disk full', level: 'error' });
  });
});
