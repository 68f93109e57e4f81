import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CliError, formatError, isNotFound, statusOf } from '../../../src/cli/errors.js';

const status = (code: number, reason: string, message: string, causes?: { field?: string; message: string }[]) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(causes ? { details: { causes } } : {}) });

describe('formatError', () => {
  it("prints a server Status the way kubectl does", () => {
    const err = new ApiException(404, 'x', status(404, 'NotFound', 'containers.berth.dev "x" not found'), {});
    expect(formatError(err)).toBe('Error from server (NotFound): containers.berth.dev "x" not found');
    expect(isNotFound(err)).toBe(true);
    expect(statusOf(err)?.reason).toBe('NotFound');
  });

  it('adds causes the message does not already state, and a context', () => {
    const err = new ApiException(
      422,
      'x',
      status(422, 'Invalid', 'Container.berth.dev "web" is invalid: spec.image: Required value', [
        { field: 'spec.image', message: 'Required value' },
        { field: 'spec.ports[0].containerPort', message: 'must be between 1 and 65535' },
      ]),
      {},
    );
    expect(formatError(err, 'web.yaml (document 2)')).toBe(
      'Error from server (Invalid): web.yaml (document 2): Container.berth.dev "web" is invalid: spec.image: Required value\n  spec.ports[0].containerPort: must be between 1 and 65535',
    );
  });

  it('falls back to the HTTP code when the body is not a Status', () => {
    expect(formatError(new ApiException(503, 'x', '', {}))).toBe('Error from server (ServiceUnavailable): the server responded with HTTP 503');
    expect(formatError(new ApiException(418, 'x', 'teapot\nmore', {}))).toBe('Error from server (HTTP 418): teapot');
  });

  it('prints CLI and connection errors as one error: line', () => {
    expect(formatError(new CliError('bad flag'))).toBe('error: bad flag');
    const refused = Object.assign(new Error('request to https://127.0.0.1:1/api failed, reason: connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(formatError(refused)).toMatch(/^error: the connection to the server 127.0.0.1:1 was refused/);
    expect(formatError('weird')).toBe('error: weird');
  });
});
