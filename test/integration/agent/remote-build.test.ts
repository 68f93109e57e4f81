/** `berth build` through the API server: the context goes to the node's agent, progress streams back. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../../../src/registry/server.js';
import { berthArgv, ROOT } from '../../helpers/berth-bin.js';
import { run } from '../../helpers/run.js';
import { imageManifest, phaseOf, runtimeSkipReason, startTestNode, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping remote build tests: ${skip}`);

describe.skipIf(!!skip)('berth build through the API server', () => {
  let t: TestNode;
  let ctx: string;
  const berth = (args: string[]) => run(...berthArgv([...args, '--kubeconfig', t.node.api.kubeconfigPath]), { cwd: ROOT, timeoutMs: 120_000 });

  beforeAll(async () => {
    t = await startTestNode();
    await t.apply(imageManifest(t.tarball));
    ctx = join(t.dir, 'ctx');
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await writeFile(join(ctx, 'sub', 'kept.txt'), 'kept\n');
    await writeFile(join(ctx, 'secret.txt'), 'must not leave the client\n');
    await writeFile(join(ctx, '.dockerignore'), 'secret.txt\n');
    // The RUN fails the build if the ignored file reached the node.
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /ctx\nRUN test -e /ctx/sub/kept.txt && test ! -e /ctx/secret.txt\nCMD ["cat", "/ctx/sub/kept.txt"]\n');
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('sends the context without ignored files, streams the steps and leaves the image on the node', async () => {
    await expect.poll(async () => phaseOf(await t.client.get('images', 'default', 'busybox')), { timeout: 60_000 }).toBe('Ready');
    const r = await berth(['build', '-t', 'remote/app:1', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Step 1/4 : FROM busybox:latest');
    expect(r.stdout).toContain('Step 3/4 : RUN test -e /ctx/sub/kept.txt');
    expect(r.stdout).toMatch(new RegExp(`Successfully built [0-9a-f]{12} on node ${t.nodeName}\\nSuccessfully tagged remote/app:1\\n$`));
    expect(await t.node.runtime!.images.exists('remote/app:1')).toBe(true);

    const again = await berth(['build', '-t', 'remote/app:1', ctx]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Using cache');
    expect(again.stdout).not.toContain('Running in');
  });

  it('pushes from the node with --push', async () => {
    const reg = await startRegistry({ dataDir: join(t.dir, 'registry'), listen: '127.0.0.1:0', auth: 'off' });
    try {
      const ref = `127.0.0.1:${reg.port}/remote/app:pushed`;
      const r = await berth(['build', '--push', '-t', ref, ctx]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
      const tags = (await (await fetch(`${reg.url}/v2/remote/app/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).toEqual(['pushed']);
    } finally {
      await reg.close();
    }
  });

  it('reports a failing step with its Dockerfile line and exits 1', async () => {
    await writeFile(join(ctx, 'Dockerfile.bad'), 'FROM busybox:latest\nRUN exit 4\n');
    const r = await berth(['build', '-f', join(ctx, 'Dockerfile.bad'), ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Dockerfile\.bad:2/);
    const unknownNode = await berth(['build', '--node', 'nope', ctx]);
    expect(unknownNode.code).toBe(1);
    expect(unknownNode.stderr).toContain('node "nope" has no agent endpoint');
  });
});
