/**
 * `berth build --local`, `berth commit` and `berth history` as subprocesses against this machine's
 * node: the CLI talks to the node's agent through the API server (a node in this process); what
 * they wrote is read from the agent's runtime, and commit works on Container objects.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../../../src/registry/server.js';
import type { Runtime } from '../../../src/runtime/index.js';
import { berthArgv, ROOT } from '../../helpers/berth-bin.js';
import { run, type RunResult } from '../../helpers/run.js';
import { containerManifest, phaseOf, startTestNode, statusOf, type TestNode } from '../agent/helpers.js';
import { buildSkipReason } from './helpers.js';

const skip = buildSkipReason();
if (skip) console.warn(`skipping build CLI tests: ${skip}`);

describe.skipIf(skip !== undefined)('berth build / commit / history (CLI)', () => {
  let t: TestNode;
  let dataDir: string;
  let rt: Runtime;
  let ctx: string;
  // The node's containers (RUN steps too) run under the test node's own parent cgroup, which its cleanup removes.
  const berth = (args: string[]): Promise<RunResult> =>
    run(...berthArgv([...args, '--kubeconfig', t.node.api.kubeconfigPath]), { cwd: ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, timeoutMs: 60_000 });

  beforeAll(async () => {
    t = await startTestNode();
    dataDir = t.dir;
    rt = t.node.runtime!;
    await rt.importImage(t.tarball, { ref: 'busybox' });
    ctx = join(dataDir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'hello.txt'), 'hello\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo "built by $WHO" > /who.txt && cat /who.txt\nCMD ["cat", "/hello.txt", "/who.txt"]\n');
  }, 60_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  it('streams the steps, then answers a rebuild from the cache', async () => {
    const first = await berth(['build', '--local', '-t', 'app:1', '-t', 'app:latest', '--build-arg', 'WHO=cli', ctx]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Step 1\/5 : FROM busybox\nStep 2\/5 : ARG WHO=nobody\nStep 3\/5 : COPY hello.txt \/hello.txt\n ---> [0-9a-f]{12}\nStep 4\/5 : RUN echo "built by \$WHO" > \/who.txt && cat \/who.txt\n ---> Running in [0-9a-f]{12}\nbuilt by cli\n/);
    expect(first.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged app:1\nSuccessfully tagged app:latest\n$/);
    const again = await berth(['build', '--local', '-t', 'app:1', '--build-arg', 'WHO=cli', ctx]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Step 3/5 : COPY hello.txt /hello.txt\n ---> Using cache\nStep 4/5 : RUN');
    expect(again.stdout).not.toContain('Running in');
    expect(again.stdout.match(/Using cache/g)?.length).toBe(2);
    const nocache = await berth(['build', '--local', '--no-cache', '--build-arg', 'WHO=cli', ctx]);
    expect(nocache.stdout).toContain('Running in');
    expect(nocache.stdout).not.toContain('Using cache');
    const quiet = await berth(['build', '--local', '-q', '-f', join(ctx, 'Dockerfile'), '--build-arg', 'WHO=cli', ctx]);
    expect(quiet.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('pushes the built image with --push', async () => {
    const reg = await startRegistry({ dataDir: join(dataDir, 'registry'), listen: '127.0.0.1:0', auth: 'off' });
    try {
      const ref = `127.0.0.1:${reg.port}/team/app:pushed`;
      const r = await berth(['build', '--local', '--push', '-t', ref, '--build-arg', 'WHO=cli', ctx]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Pushed ${ref.replace(/[.]/g, '\\.')}: digest: sha256:[0-9a-f]{64}`));
      const tags = (await (await fetch(`${reg.url}/v2/team/app/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).toEqual(['pushed']);
      const noTag = await berth(['build', '--local', '--push', ctx]);
      expect(noTag.code).toBe(1);
      expect(noTag.stderr).toContain('--push needs at least one -t');
    } finally {
      await reg.close();
    }
  });

  it('prints errors with the Dockerfile line and exits 1', async () => {
    await writeFile(join(ctx, 'Dockerfile.bad'), 'FROM busybox\nFOO bar\n');
    const r = await berth(['build', '--local', '-f', join(ctx, 'Dockerfile.bad'), ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Dockerfile.bad:2: unknown instruction: FOO\n');
    const missing = await berth(['build', '--local', '-f', join(ctx, 'nope'), ctx]);
    expect(missing.stderr).toMatch(/error: cannot read the Dockerfile .*nope: no such file/);
  });

  it('history lists one row per instruction, newest first, with sizes and comments', async () => {
    const r = await berth(['history', 'app:1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^[0-9a-f]{12}\s+.*ago\s+\/bin\/sh -c #\(nop\)\s+CMD \["cat","\/hello.txt",\.\.\.\s+0B\s*$/);
    expect(lines[2]).toMatch(/^<missing>\s+.*\|1 WHO=cli \/bin\/sh -c echo "built by \$WHO"\.\.\.\s+13B\s*$/);
    expect(lines[3]).toMatch(/COPY file:[0-9a-f]+.*\s+6B\s*$/);
    expect(lines[5]).toMatch(/berth import\s+\d+(\.\d+)?MB/);
    const noTrunc = await berth(['history', '--no-trunc', 'app:1']);
    expect(noTrunc.stdout).toContain('|1 WHO=cli /bin/sh -c echo "built by $WHO" > /who.txt && cat /who.txt');
    const bad = await berth(['history', 'nope:1']);
    expect(bad.stderr).toBe('error: image "nope:1" not found\n');
  });

  it('commit turns a container into an image, with --change in Dockerfile syntax, author and message', async () => {
    await t.apply(containerManifest('tocommit', { image: 'app:1', command: ['sh', '-c', 'echo committed > /made.txt'], restartPolicy: 'Never' }));
    await expect.poll(async () => phaseOf(await t.container('tocommit')), { timeout: 60_000 }).toBe('Exited');
    expect(statusOf(await t.container('tocommit')).exitCode).toBe(0);
    const c = { name: 'tocommit' };
    const r = await berth(['commit', '-m', 'from cli', '-a', 'Jane <jane@example.com>', '--change', 'CMD ["cat", "/made.txt"]', '--change', 'ENV MODE=prod', c.name, 'app:committed']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const inspect = await rt.images.inspect('app:committed');
    expect(inspect.Author).toBe('Jane <jane@example.com>');
    expect(inspect.Config.Cmd).toEqual(['cat', '/made.txt']);
    expect(inspect.Config.Env).toContain('MODE=prod');
    const hist = await berth(['history', 'app:committed']);
    expect(hist.stdout.split('\n')[1]).toMatch(/from cli\s*$/);
    const c2 = await rt.containers.create({ image: 'app:committed' });
    await rt.tasks.start(c2.id);
    expect(await rt.tasks.wait(c2.id)).toBe(0);
    const out: string[] = [];
    for await (const l of rt.tasks.logs(c2.id)) out.push(l.line);
    expect(out).toEqual(['committed']);
    const bad = await berth(['commit', '--change', 'RUN rm -rf /', c.name, 'app:x']);
    expect(bad.stderr).toBe('error: --change[0]:1: RUN: RUN is not a valid change command (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)\n');
  });
});
