/** A node API request's view of the node's registry client: the request's login only, nothing saved. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registrySession } from '../../../src/agent/registry-session.js';
import { Distribution, Runtime } from '../../../src/runtime/index.js';

describe('registrySession', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("answers the request's login for every registry, never the node's saved ones, and saves nothing", async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-session-'));
    const saved = join(dir, 'config.json');
    const nodeLogins = `${JSON.stringify({ auths: { 'reg.example:5000': { auth: Buffer.from('node:node-secret').toString('base64') } } })}\n`;
    await writeFile(saved, nodeLogins);
    const rt = new Runtime({ root: join(dir, 'runtime') });
    const shared = new Distribution({ images: rt.images, root: rt.root, credentialsPath: saved });

    const anonymous = registrySession(shared, undefined);
    expect(await anonymous.credentials.get('reg.example:5000')).toBeUndefined();
    const alice = registrySession(shared, { username: 'alice', password: 'pw' });
    expect(await alice.credentials.get('reg.example:5000')).toEqual({ username: 'alice', password: 'pw' });
    expect(await alice.credentials.get('other.example')).toEqual({ username: 'alice', password: 'pw' });
    await alice.credentials.set('reg.example:5000', { username: 'alice', password: 'pw' });
    expect(await alice.logout('reg.example:5000')).toBe(false);

    // the node's own client is untouched: same logins, same file
    expect(await shared.credentials.get('reg.example:5000')).toEqual({ username: 'node', password: 'node-secret' });
    expect(await readFile(saved, 'utf8')).toBe(nodeLogins);
    // and the view is still the node's client for everything else
    expect(alice).toBeInstanceOf(Distribution);
  });
});
