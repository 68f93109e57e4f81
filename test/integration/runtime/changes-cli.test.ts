/**
 * `berth import` and `berth commit` with Docker's --change syntax, as subprocesses against a node:
 * the CLI talks to the node's agent through the API server (a node in this process); what the
 * verbs wrote is read from the agent's runtime, and commit works on Container objects.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/runtime/index.js';
import { berthArgv, ROOT } from '../../helpers/berth-bin.js';
import { run, type RunResult } from '../../helpers/run.js';
import { containerManifest, phaseOf, startTestNode, statusOf, type TestNode } from '../agent/helpers.js';
import { runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping import/commit --change CLI tests: ${skip}`);

describe.skipIf(skip !== undefined)('berth import / commit --change (CLI)', () => {
  let t: TestNode;
  let dataDir: string;
  let rt: Runtime;
  let tarball: string;
  const berth = (args: string[], input?: string | Buffer): Promise<RunResult> =>
    run(...berthArgv([...args, '--kubeconfig', t.node.api.kubeconfigPath]), { cwd: ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, timeoutMs: 60_000, ...(input !== undefined ? { input: input as string } : {}) });
  /** A Container object that runs once to completion on the node (commit works on Containers). */
  const ranContainer = async (name: string, spec: Record<string, unknown>): Promise<void> => {
    await t.apply(containerManifest(name, { restartPolicy: 'Never', ...spec }));
    await expect.poll(async () => phaseOf(await t.container(name)), { timeout: 60_000 }).toBe('Exited');
    expect(statusOf(await t.container(name)).exitCode).toBe(0);
  };
  const output = async (image: string, command?: string[]): Promise<string[]> => {
    const c = await rt.containers.create({ image, ...(command ? { command } : {}) });
    try {
      await rt.tasks.start(c.id);
      expect(await rt.tasks.wait(c.id)).toBe(0);
      const out: string[] = [];
      for await (const l of rt.tasks.logs(c.id)) out.push(l.line);
      return out;
    } finally {
      await rt.containers.remove(c.id, { force: true, volumes: true });
    }
  };
  /** What a refused command must leave as it was. */
  const state = async (): Promise<unknown> => ({
    images: (await rt.images.list()).map((i) => i.id).sort(),
    blobs: (await rt.content.list()).sort(),
    tmp: await readdir(join(dataDir, 'runtime', 'tmp')).catch(() => []),
  });

  beforeAll(async () => {
    t = await startTestNode();
    dataDir = join(t.dir, 'data');
    rt = t.node.runtime!;
    tarball = t.tarball;
  }, 60_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  it('import applies every kind of change; inspect shows the config and a container runs with it', async () => {
    const r = await berth([
      'import', '-m', 'imported with changes',
      '--change', 'ENV PATH=/bin GREETING="hello world"',
      '--change', 'WORKDIR /srv',
      '--change', 'USER app',
      '--change', 'EXPOSE 8080 53/udp',
      '--change', 'VOLUME ["/data"]',
      '--change', 'LABEL org.example.team=runtime',
      '--change', 'STOPSIGNAL SIGQUIT',
      '-c', 'ENTRYPOINT ["/bin/sh", "-c"]',
      '-c', 'CMD ["echo $GREETING from $(pwd) as $(id -un)"]',
      tarball, 'imported:1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const inspect = await rt.images.inspect('imported:1');
    expect(inspect.Config).toEqual({
      Env: ['PATH=/bin', 'GREETING=hello world'],
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo $GREETING from $(pwd) as $(id -un)'],
      WorkingDir: '/srv',
      User: 'app',
      ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
      Volumes: { '/data': {} },
      Labels: { 'org.example.team': 'runtime' },
      StopSignal: 'SIGQUIT',
    });
    expect((await rt.images.history('imported:1'))[0]).toMatchObject({ comment: 'imported with changes' });
    expect(await output('imported:1')).toEqual(['hello world from /srv as app']);
  });

  it('import reads the tarball from stdin; the shell form of CMD runs through /bin/sh -c', async () => {
    const r = await berth(['import', '-c', 'CMD echo from stdin', '-', 'stdin:1'], (await readFile(tarball)) as unknown as string);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await rt.images.inspect('stdin:1')).Config.Cmd).toEqual(['/bin/sh', '-c', 'echo from stdin']);
    expect(await output('stdin:1')).toEqual(['from stdin']);
  });

  it('import refuses a bad change or name, naming it, and writes nothing', async () => {
    const before = await state();
    const refused: Array<[string[], string]> = [
      [['-c', 'RUN echo hi'], 'error: --change[0]:1: RUN: RUN is not a valid change command (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)\n'],
      [['-c', 'CMD ["sh"]', '-c', 'EXPOSE http'], 'error: --change[1]:1: EXPOSE: invalid port "http": want PORT[-END][/PROTOCOL]\n'],
      [['-c', 'ENV'], 'error: --change[0]:1: ENV: ENV requires at least one argument\n'],
      [['-c', 'FROBNICATE x'], 'error: --change[0]:1: unknown instruction: FROBNICATE\n'],
    ];
    for (const [args, message] of refused) {
      const r = await berth(['import', ...args, tarball, 'refused:1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
    const badName = await berth(['import', tarball, 'Not A Name']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/is not a valid image reference/);
    const missing = await berth(['import', join(dataDir, 'nope.tar')]);
    expect(missing.stderr).toBe(`error: open ${join(dataDir, 'nope.tar')}: no such file or directory\n`);
    expect(await state()).toEqual(before);
  });

  it('commit applies changes against the container image config (variables, relative WORKDIR, ENTRYPOINT and CMD, ONBUILD)', async () => {
    await ranContainer('made', { image: 'imported:1', command: ['sh', '-c', 'echo made by $(id -un) > /srv/made.txt'], user: 'root' });
    const c = { name: 'made' };
    const r = await berth([
      'commit', '-a', 'Jane <jane@example.com>',
      '--change', 'ENV EXTRA="$GREETING!"',
      '--change', 'WORKDIR sub',
      '--change', 'EXPOSE 9090',
      '--change', 'LABEL stage=committed',
      '--change', 'USER root',
      '--change', 'ONBUILD RUN echo child',
      '--change', 'ENTRYPOINT ["cat"]',
      '--change', 'CMD ["/srv/made.txt"]',
      c.name, 'committed:1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inspect = await rt.images.inspect('committed:1');
    expect(inspect.Author).toBe('Jane <jane@example.com>');
    expect(inspect.Config).toEqual({
      Env: ['PATH=/bin', 'GREETING=hello world', 'EXTRA=hello world!'],
      Entrypoint: ['cat'],
      Cmd: ['/srv/made.txt'],
      WorkingDir: '/srv/sub',
      User: 'root',
      ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '9090/tcp': {} },
      Volumes: { '/data': {} },
      Labels: { 'org.example.team': 'runtime', stage: 'committed' },
      StopSignal: 'SIGQUIT',
      OnBuild: ['RUN echo child'],
    });
    expect(await output('committed:1')).toEqual(['made by root']);

    // ENTRYPOINT alone resets the image's CMD, as in a Dockerfile
    const reset = await berth(['commit', '-c', 'ENTRYPOINT ["echo", "only"]', c.name, 'committed:2']);
    expect(reset.code).toBe(0);
    expect((await rt.images.inspect('committed:2')).Config).toMatchObject({ Entrypoint: ['echo', 'only'], Cmd: null });
    expect(await output('committed:2')).toEqual(['only']);
  });

  it('commit refuses a bad change or name, naming it, and writes nothing', async () => {
    await ranContainer('refused', { image: 'imported:1', command: ['true'] });
    const c = { name: 'refused' };
    const before = await state();
    const refused: Array<[string[], string]> = [
      [['-c', 'COPY . /'], 'error: --change[0]:1: COPY: COPY is not a valid change command (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)\n'],
      [['-c', 'CMD ["ok"]', '-c', 'STOPSIGNAL SIGNOPE'], 'error: --change[1]:1: STOPSIGNAL: invalid signal "SIGNOPE"\n'],
      [['-c', 'ONBUILD FROM busybox'], "error: --change[0]:1: ONBUILD: FROM isn't allowed as an ONBUILD trigger\n"],
      [['-c', 'USER'], 'error: --change[0]:1: USER: USER requires an argument\n'],
      [['-c', 'CMD --network=host x'], 'error: --change[0]:1: CMD: unknown flag: --network\n'],
    ];
    for (const [args, message] of refused) {
      const r = await berth(['commit', ...args, c.name, 'refused:1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
    const badName = await berth(['commit', c.name, 'Not A Name']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/is not a valid image reference/);
    expect(await state()).toEqual(before);
  });
});
