/** The node image API's shared definitions: which paths exist, and the X-Registry-Auth header. */
import { describe, expect, it } from 'vitest';
import { decodeRegistryAuth, encodeRegistryAuth, imagePath, matchNodeApiRoute, nodeApiPathExists, nodeProxyPath, RegistryAuthError } from '../../../src/api/node-api.js';

describe('node API routes', () => {
  it('match the paths and methods of the API, with image names that hold slashes and colons', () => {
    expect(matchNodeApiRoute('GET', '/images/json')?.route.name).toBe('images/list');
    expect(matchNodeApiRoute('GET', imagePath('127.0.0.1:5000/team/app:1', 'json'))).toMatchObject({ route: { name: 'images/inspect' }, name: '127.0.0.1:5000/team/app:1' });
    // as the docker CLI sends them, unescaped
    expect(matchNodeApiRoute('POST', '/images/127.0.0.1:5000/team/app/push')).toMatchObject({ route: { name: 'images/push' }, name: '127.0.0.1:5000/team/app' });
    expect(matchNodeApiRoute('DELETE', '/images/busybox:latest')).toMatchObject({ route: { name: 'images/remove' }, name: 'busybox:latest' });
    expect(matchNodeApiRoute('GET', '/images/busybox/history')?.route.name).toBe('images/history');
    expect(matchNodeApiRoute('POST', '/images/busybox/tag')?.route.name).toBe('images/tag');
    for (const [method, path, name] of [
      ['GET', '/images/search', 'images/search'],
      ['GET', '/images/get', 'images/save'],
      ['POST', '/images/create', 'images/create'],
      ['POST', '/images/load', 'images/load'],
      ['POST', '/commit', 'commit'],
      ['GET', '/system/df', 'system/df'],
      ['POST', '/auth', 'auth'],
      ['POST', '/build', 'build'],
    ] as const) {
      expect(matchNodeApiRoute(method, path)?.route.name, `${method} ${path}`).toBe(name);
    }
  });

  it('match nothing else: other agent paths, other methods, malformed escapes', () => {
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['GET', '/healthz'],
      ['GET', '/containers/default/web/log'],
      ['POST', '/containers/default/web/exec'],
      ['GET', '/images'],
      ['GET', '/'],
      ['POST', '/images/json'],
      ['DELETE', '/system/df'],
      ['PUT', '/images/busybox/tag'],
      ['GET', '/images/%E0%A4%A/json'],
    ] as const) {
      expect(matchNodeApiRoute(method, path), `${method} ${path}`).toBeUndefined();
    }
    expect(nodeApiPathExists('/images/json')).toBe(true);
    expect(nodeApiPathExists('/metrics')).toBe(false);
    expect(nodeProxyPath('node-1', '/images/json')).toBe('/apis/berth.dev/v1alpha1/nodes/node-1/proxy/images/json');
  });
});

describe('X-Registry-Auth', () => {
  const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

  it('carries a login as the docker CLI encodes it, and decodes both base64 alphabets and the auth field', () => {
    const header = encodeRegistryAuth({ username: 'alice', password: 'p?>/+=' }, 'reg:5000');
    expect(header).not.toMatch(/[+/]/);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ username: 'alice', password: 'p?>/+=', serveraddress: 'reg:5000' });
    expect(decodeRegistryAuth(header)).toEqual({ username: 'alice', password: 'p?>/+=' });
    expect(decodeRegistryAuth(b64({ username: 'bob', password: 'p?>?>' }))).toEqual({ username: 'bob', password: 'p?>?>' });
    expect(decodeRegistryAuth(b64url({ auth: Buffer.from('carol:a:b').toString('base64') }))).toEqual({ username: 'carol', password: 'a:b' });
  });

  it('is anonymous when absent or empty', () => {
    expect(decodeRegistryAuth(undefined)).toBeUndefined();
    expect(decodeRegistryAuth('')).toBeUndefined();
    expect(decodeRegistryAuth(b64url({}))).toBeUndefined();
    expect(decodeRegistryAuth(b64url({ username: '', password: '', serveraddress: 'x' }))).toBeUndefined();
  });

  it('refuses malformed headers naming the header, never echoing a secret', () => {
    const cases: Array<[string, string]> = [
      ['not base64!', 'X-Registry-Auth: not base64'],
      [Buffer.from('{"username": "x", "password": "hunter2"').toString('base64'), 'X-Registry-Auth: not base64 of a JSON object'],
      [b64url(['alice', 'hunter2']), 'X-Registry-Auth: not base64 of a JSON object'],
      [b64url({ username: 'alice' }), 'X-Registry-Auth: needs both username and password'],
      [b64url({ password: 'hunter2' }), 'X-Registry-Auth: needs both username and password'],
      [b64url({ username: 'alice', password: 42 }), 'X-Registry-Auth: password: Invalid input: expected string, received number'],
      [b64url({ auth: Buffer.from('hunter2').toString('base64') }), 'X-Registry-Auth: auth is not base64 of "username:password"'],
      [b64url({ identitytoken: 'hunter2' }), 'X-Registry-Auth: identitytoken and registrytoken are not supported; send username and password'],
      ['a'.repeat(40000), 'X-Registry-Auth: longer than 32768 characters'],
    ];
    for (const [header, message] of cases) {
      let err: unknown;
      try {
        decodeRegistryAuth(header);
      } catch (e) {
        err = e;
      }
      expect(err, message).toBeInstanceOf(RegistryAuthError);
      expect((err as Error).message).toBe(message);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
