/** The client's saved logins (docker config.json format) and which registry an image reference names. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRegistryAuth } from '../../../src/api/node-api.js';
import { credentialsPath, CredentialsFile, registryHost, registryOf } from '../../../src/client/registry-credentials.js';

describe('registryOf', () => {
  it("follows Docker's rule for the first component", () => {
    expect(registryOf('busybox')).toBe('docker.io');
    expect(registryOf('team/app:1')).toBe('docker.io');
    expect(registryOf('docker.io/library/busybox')).toBe('docker.io');
    expect(registryOf('index.docker.io/team/app')).toBe('docker.io');
    expect(registryOf('127.0.0.1:5000/team/app:1')).toBe('127.0.0.1:5000');
    expect(registryOf('localhost/app')).toBe('localhost');
    expect(registryOf('registry.example/app@sha256:' + 'a'.repeat(64))).toBe('registry.example');
    expect(registryHost('https://reg.example:5000/v2/')).toBe('reg.example:5000');
  });
});

describe('CredentialsFile', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('saves, reads, sends and removes logins, private to the user, with Docker Hub under its v1 key', async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-creds-'));
    expect(credentialsPath({ BERTH_CONFIG: dir })).toBe(join(dir, 'config.json'));
    const file = new CredentialsFile(join(dir, 'config.json'));
    expect(await file.get('reg:5000')).toBeUndefined();
    expect(await file.registryAuth('reg:5000')).toBeUndefined();
    await file.set('reg:5000', { username: 'alice', password: 'pw:1' });
    await file.set('docker.io', { username: 'bob', password: 'pw2' });
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(await readFile(file.path, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(cfg.auths).sort()).toEqual(['https://index.docker.io/v1/', 'reg:5000']);
    expect(await file.get('reg:5000')).toEqual({ username: 'alice', password: 'pw:1' });
    expect(decodeRegistryAuth(await file.registryAuth('docker.io'))).toEqual({ username: 'bob', password: 'pw2' });
    expect(await file.remove('reg:5000')).toBe(true);
    expect(await file.remove('reg:5000')).toBe(false);
    expect(await file.get('reg:5000')).toBeUndefined();
  });

  it('reads logins the docker CLI wrote with username and password fields, and refuses a file that is not one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-creds-'));
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { 'https://reg.example': { username: 'u', password: 'p' } }, credsStore: 'ignored' }));
    expect(await new CredentialsFile(path).get('reg.example')).toEqual({ username: 'u', password: 'p' });
    await writeFile(path, '{"auths": ["no"]}');
    await expect(new CredentialsFile(path).get('reg.example')).rejects.toThrow(/not a credentials file/);
    await writeFile(path, 'not json');
    await expect(new CredentialsFile(path).get('reg.example')).rejects.toThrow(`${path}: not JSON`);
  });
});
