/**
 * Issue 17, finding 4: an Image built from a git "URL" that is an option (--upload-pack=CMD) runs
 * nothing. Finding 6: files from an image are hostile. An image whose /etc/passwd is a FIFO used
 * to block the agent's thread pool on the read (five such containers and nothing else moved); now
 * each such container fails with a clear reason and the node goes on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxTarball } from '../runtime/helpers.js';
import { containerManifest, GV, imageManifest, phaseOf, runtimeSkipReason, startTestNode, statusOf, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
const POLL = { timeout: 30_000, interval: 200 };

describe.skipIf(!!skip)('untrusted files from images', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
    const fifoImage = await busyboxTarball(t.dir, async (r) => {
      await rm(join(r, 'etc', 'passwd'));
      execFileSync('mkfifo', [join(r, 'etc', 'passwd')]);
    });
    await t.apply(imageManifest(t.tarball));
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'fifo', namespace: 'default' }, spec: { ref: 'fifo:latest', source: { import: { path: fifoImage, format: 'rootfs' } } } });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('five containers of a FIFO /etc/passwd image fail with the reason; a normal one still gets Running', async () => {
    for (const name of ['busybox', 'fifo']) await expect.poll(async () => (await t.client.get('images', 'default', name)).status?.phase, POLL).toBe('Ready');
    for (let i = 0; i < 5; i++) await t.apply(containerManifest(`fifo-${i}`, { image: 'fifo:latest', user: 'app', command: ['sleep', '100'] }));
    for (let i = 0; i < 5; i++) {
      await expect.poll(async () => phaseOf(await t.container(`fifo-${i}`)), POLL).toBe('Failed');
      const st = statusOf(await t.container(`fifo-${i}`));
      expect(st.reason).toBe('CreateContainerConfigError');
      expect(st.message).toBe('user: /etc/passwd in the image is a FIFO, not a regular file');
    }
    await t.apply(containerManifest('normal', { command: ['sleep', '100'] }));
    await expect.poll(async () => phaseOf(await t.container('normal')), POLL).toBe('Running');
    // nothing of the failed creates is left on the node
    expect((await t.node.runtime!.containers.list({ all: true })).map((c) => c.name)).toEqual(['default_normal']);
  });

  it('an Image built from --upload-pack=touch${IFS}FILE;false runs nothing and fails naming the URL', async () => {
    const file = join(t.dir, 'pwned');
    const url = `--upload-pack=touch\${IFS}${file};false`;
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'evil', namespace: 'default' }, spec: { ref: 'evil:latest', source: { build: { context: { git: { url } } } } } });
    const ready = async () => (statusOf(await t.client.get('images', 'default', 'evil')).conditions as Array<{ type: string; reason?: string; message?: string }> | undefined)?.find((c) => c.type === 'Ready');
    await expect.poll(async () => (await ready())?.reason, POLL).toBe('BuildFailed');
    expect(existsSync(file), `${file} was created by git`).toBe(false);
    expect((await ready())?.message).toContain('starts with "-": not a URL');
    // an ext:: remote helper and a file:// URL where the node does not allow them are refused the same way
    const { checkGitUrl } = await import('../../../src/runtime/index.js');
    expect(() => checkGitUrl('ext::sh -c touch% /tmp/x', {})).toThrow(/remote helpers \(ext::\) are not allowed|spaces/);
    expect(() => checkGitUrl('ext::touch', {})).toThrow(/remote helpers \(ext::\) are not allowed/);
    expect(() => checkGitUrl('file:///srv/repo', {})).toThrow(/file:\/\/ URLs are not allowed/);
    expect(() => checkGitUrl('/srv/repo', {})).toThrow(/local repository paths are not allowed/);
    expect(() => checkGitUrl('ssh://-oProxyCommand=x/y', {})).toThrow(/starts with "-"/);
    expect(() => checkGitUrl('-oProxyCommand=x:y', {})).toThrow(/starts with "-"/);
    expect(checkGitUrl('https://example.com/r.git', {})).toBe('remote');
    expect(checkGitUrl('git@example.com:team/r.git', {})).toBe('remote');
    expect(checkGitUrl('file:///srv/repo', { allowFile: true })).toBe('file');
  });
});
