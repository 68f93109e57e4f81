import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSkipReason, setupBuildEnv, type BuildEnv } from './helpers.js';

const skip = buildSkipReason();
if (skip) console.warn(`skipping build integration tests: ${skip}`);

const EP_SHELL = 'ENTRYPOINT exec_entry p1_entry';
const EP_EXEC = 'ENTRYPOINT ["exec_entry", "p1_entry"]';
const CMD_EXEC = 'CMD ["exec_cmd", "p1_cmd"]';
const CMD_SHELL = 'CMD exec_cmd p1_cmd';

// Docker's "Understand how CMD and ENTRYPOINT interact" table (the argv is ENTRYPOINT + CMD, as dockerd runs it)
const TABLE: Array<{ lines: string[]; argv: string[]; out: string }> = [
  { lines: [CMD_EXEC], argv: ['exec_cmd', 'p1_cmd'], out: 'exec_cmd p1_cmd' },
  { lines: [CMD_SHELL], argv: ['/bin/sh', '-c', 'exec_cmd p1_cmd'], out: 'exec_cmd p1_cmd' },
  { lines: [EP_SHELL], argv: ['/bin/sh', '-c', 'exec_entry p1_entry'], out: 'exec_entry p1_entry' },
  { lines: [EP_SHELL, CMD_EXEC], argv: ['/bin/sh', '-c', 'exec_entry p1_entry', 'exec_cmd', 'p1_cmd'], out: 'exec_entry p1_entry' },
  { lines: [EP_SHELL, CMD_SHELL], argv: ['/bin/sh', '-c', 'exec_entry p1_entry', '/bin/sh', '-c', 'exec_cmd p1_cmd'], out: 'exec_entry p1_entry' },
  { lines: [EP_EXEC], argv: ['exec_entry', 'p1_entry'], out: 'exec_entry p1_entry' },
  { lines: [EP_EXEC, CMD_EXEC], argv: ['exec_entry', 'p1_entry', 'exec_cmd', 'p1_cmd'], out: 'exec_entry p1_entry exec_cmd p1_cmd' },
  { lines: [EP_EXEC, CMD_SHELL], argv: ['exec_entry', 'p1_entry', '/bin/sh', '-c', 'exec_cmd p1_cmd'], out: 'exec_entry p1_entry /bin/sh -c exec_cmd p1_cmd' },
];

describe.skipIf(skip !== undefined)('Dockerfiles built and run end to end (real runc)', () => {
  let env: BuildEnv;
  beforeAll(async () => {
    env = await setupBuildEnv('df');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('gives every ENTRYPOINT/CMD combination of Docker\'s table the same process arguments', async () => {
    for (const [i, row] of TABLE.entries()) {
      const { imageId } = await env.build({ dockerfile: ['FROM busybox', ...row.lines].join('\n'), tags: [`table:${i}`] });
      const r = await env.run(imageId);
      expect({ lines: row.lines, argv: r.argv, out: r.stdout, code: r.exitCode }).toEqual({ lines: row.lines, argv: row.argv, out: [row.out], code: 0 });
    }
    // neither: no command, a clear error when the container is created
    const { imageId } = await env.build({ dockerfile: 'FROM busybox\n' });
    await expect(env.run(imageId)).rejects.toThrow(/no command specified/);
    // ENTRYPOINT resets a CMD inherited from the base image; a CMD in the same Dockerfile stays
    await env.build({ dockerfile: `FROM busybox\n${CMD_EXEC}\n`, tags: ['with-cmd'] });
    const reset = await env.build({ dockerfile: `FROM with-cmd\n${EP_EXEC}\n` });
    expect((await env.run(reset.imageId)).argv).toEqual(['exec_entry', 'p1_entry']);
    const kept = await env.build({ dockerfile: `FROM busybox\n${CMD_EXEC}\n${EP_EXEC}\n` });
    expect((await env.run(kept.imageId)).argv).toEqual(['exec_entry', 'p1_entry', 'exec_cmd', 'p1_cmd']);
  });

  it('a RUN that changes nothing makes an empty layer; an image holding the same layer twice still runs', async () => {
    const r = await env.build({ dockerfile: 'FROM busybox\nRUN true\nRUN true\nCMD ["echo", "ok"]\n' });
    const ids = (await env.rt.images.config(r.imageId)).rootfs.diff_ids;
    expect(ids.at(-1)).toBe(ids.at(-2));
    expect(await env.rt.snapshots.layerSize(ids.at(-1) as string)).toBe(0);
    expect((await env.run(r.imageId)).stdout).toEqual(['ok']);
  });

  it('multi-stage: COPY --from a named or numbered stage, unneeded stages skipped, --target', async () => {
    const dockerfile = [
      'FROM busybox AS build',
      'RUN mkdir /out && echo built > /out/artifact && echo one > /out/a.txt && echo two > /out/b.txt',
      'FROM scratch AS unused',
      'COPY does-not-exist /x',
      'FROM busybox',
      'COPY --from=build /out/artifact /app/',
      'COPY --from=0 /out/*.txt /app/txt/',
      'CMD ["sh", "-c", "cat /app/artifact /app/txt/a.txt /app/txt/b.txt"]',
    ].join('\n');
    const r = await env.build({ dockerfile, tags: ['multi:1'] });
    expect((await env.run(r.imageId)).stdout).toEqual(['built', 'one', 'two']);
    const cfg = await env.rt.images.config('multi:1');
    const base = await env.rt.images.config('busybox');
    expect(cfg.rootfs.diff_ids.length).toBe(base.rootfs.diff_ids.length + 2);
    const t = await env.build({ dockerfile, target: 'build', tags: ['multi:build'] });
    expect(await env.layerFile(t.imageId, 'out/artifact')).toBeDefined();
    await expect(env.build({ dockerfile, target: 'unused' })).rejects.toThrow(/Dockerfile:4: COPY: "does-not-exist": not found in the build context/);
    await expect(env.build({ dockerfile, target: 'nope' })).rejects.toThrow(/target stage "nope" could not be found/);
  });

  it('respects .dockerignore (with ! exceptions) for COPY .', async () => {
    const ctx = await env.context({
      '.dockerignore': 'secret.txt\nlogs\n!logs/keep.log\n*.tmp\n',
      'keep.txt': 'k',
      'secret.txt': 's',
      'logs/a.log': 'a',
      'logs/keep.log': 'kept',
      'x.tmp': 't',
      'sub/y.tmp': 'nested tmp is not matched by *.tmp',
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
    });
    const r = await env.build({ contextDir: ctx, dockerfile: await readFile(join(ctx, 'Dockerfile'), 'utf8') });
    const top = (await env.rt.images.config(r.imageId)).rootfs.diff_ids.at(-1) as string;
    const files = execFileSync('find', ['.', '-type', 'f'], { cwd: join(env.rt.snapshots.layerDir(top), 'ctx') }).toString().trim().split('\n').sort();
    expect(files).toEqual(['./.dockerignore', './Dockerfile', './keep.txt', './logs/keep.log', './sub/y.tmp']);
  });

  it('ADD unpacks local tar and tar.gz archives; COPY does not; ADD of an unreachable URL is a clear error', async () => {
    const ctx = await env.context({ 'payload/dir/file.txt': 'from tar\n', 'payload/top.txt': 'top\n' });
    execFileSync('tar', ['-C', join(ctx, 'payload'), '-cf', join(ctx, 'archive.tar'), '.']);
    execFileSync('tar', ['-C', join(ctx, 'payload'), '-czf', join(ctx, 'archive.tgz'), '.']);
    const r = await env.build({
      contextDir: ctx,
      dockerfile: 'FROM busybox\nADD archive.tar /unpacked/\nADD archive.tgz /gz\nCOPY archive.tar /copied/\nCMD ["sh", "-c", "cat /unpacked/dir/file.txt /gz/top.txt; ls /copied"]',
    });
    expect((await env.run(r.imageId)).stdout).toEqual(['from tar', 'top', 'archive.tar']);
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const closed = (probe.address() as { port: number }).port;
    await new Promise((res) => probe.close(res));
    await expect(env.build({ contextDir: ctx, dockerfile: `FROM busybox\n\nADD http://127.0.0.1:${closed}/file.tgz /x\n` })).rejects.toThrow(
      new RegExp(`^Dockerfile:3: ADD: cannot fetch http://127\\.0\\.0\\.1:${closed}/file\\.tgz: ECONNREFUSED \\(the URL could not be reached\\)`),
    );
  });

  it('substitutes ARG and ENV as Docker does (scoping, defaults, build args, escapes); ARGs reach RUN but not the image', async () => {
    const dockerfile = [
      'ARG BASE=busybox',
      'ARG GLOBAL_ONLY=global',
      'FROM ${BASE}',
      'ARG BASE',
      'ARG GREETING=hello',
      'ENV NAME=world FULL="${GREETING}, ${NAME:-nobody}" OUTSIDE=${GLOBAL_ONLY:-not-in-stage}',
      'ENV ALT=${UNSET:-fallback} PLUS=${GREETING:+set} EMPTYPLUS=${UNSET:+never} ESC=\\$GREETING',
      'LABEL base=$BASE "quoted key"="a b"',
      'RUN echo "run sees $GREETING $BASE $NAME" > /out.txt',
      'CMD ["sh", "-c", "echo \\"$FULL|$OUTSIDE|$ALT|$PLUS|$EMPTYPLUS|$ESC|$GREETING\\"; cat /out.txt"]',
    ].join('\n');
    const r = await env.build({ dockerfile, buildArgs: { GREETING: 'hi', NOT_DECLARED: 'x' } });
    expect(r.events).toContainEqual({ type: 'warning', message: 'One or more build-args [NOT_DECLARED] were not consumed' });
    expect((await env.run(r.imageId)).stdout).toEqual(['hi, nobody|not-in-stage|fallback|set||$GREETING|', 'run sees hi busybox world']);
    const cfg = await env.rt.images.config(r.imageId);
    expect(cfg.config?.Labels).toEqual({ base: 'busybox', 'quoted key': 'a b' });
    expect(cfg.config?.Env?.some((e) => e.startsWith('GREETING='))).toBe(false);
    expect(cfg.history?.at(-2)?.created_by).toBe('|2 BASE=busybox GREETING=hi /bin/sh -c echo "run sees $GREETING $BASE $NAME" > /out.txt');
  });

  it('predefined proxy ARGs reach RUN without a declaration, and stay out of history and the cache key', async () => {
    const dockerfile = 'FROM busybox\nRUN echo "proxy=$HTTP_PROXY no=$no_proxy"\n';
    const a = await env.build({ dockerfile, buildArgs: { HTTP_PROXY: 'http://proxy-a:3128', no_proxy: 'local' } });
    expect(a.events).toContainEqual({ type: 'output', stream: 'stdout', line: 'proxy=http://proxy-a:3128 no=local' });
    expect(a.events.some((e) => e.type === 'warning')).toBe(false);
    expect((await env.rt.images.config(a.imageId)).history?.at(-1)?.created_by).toBe('/bin/sh -c echo "proxy=$HTTP_PROXY no=$no_proxy"');
    const b = await env.build({ dockerfile, buildArgs: { HTTP_PROXY: 'http://proxy-b:3128' } });
    expect(b.executedRuns).toBe(0);
  });

  it('USER and WORKDIR take effect in RUN and at run time; heredocs; SHELL; metadata instructions land in the config', async () => {
    const ctx = await env.context({});
    const dockerfile = [
      'FROM busybox',
      'WORKDIR /srv/app',
      'RUN <<EOF',
      'echo heredoc-run > /srv/app/h1',
      'chown app /srv/app',
      'EOF',
      'COPY <<EOF /srv/app/h2',
      'hello ${HOSTNAME:-x}',
      'EOF',
      'RUN <<EOF',
      '#!/bin/cat',
      'a script run by its #! interpreter',
      'EOF',
      'USER app',
      'WORKDIR sub',
      'RUN id -u; pwd',
      'SHELL ["/bin/sh", "-ec"]',
      'EXPOSE 8080 53/udp',
      'VOLUME /data',
      'STOPSIGNAL SIGQUIT',
      'HEALTHCHECK --interval=5s CMD true',
      'LABEL org.example=yes',
      'ONBUILD RUN echo triggered',
      'CMD id -u && pwd && cat ../h1 ../h2',
    ].join('\n');
    const r = await env.build({ contextDir: ctx, dockerfile, tags: ['users:1'] });
    expect(r.events.filter((e) => e.type === 'output').map((e) => (e as { line: string }).line)).toEqual(['#!/bin/cat', 'a script run by its #! interpreter', '1000', '/srv/app/sub']);
    const run = await env.run('users:1');
    expect(run.stdout).toEqual(['1000', '/srv/app/sub', 'heredoc-run', 'hello x']);
    expect(run.argv).toEqual(['/bin/sh', '-ec', 'id -u && pwd && cat ../h1 ../h2']);
    const c = (await env.rt.images.config('users:1')).config as Record<string, unknown>;
    expect(c).toMatchObject({
      User: 'app', WorkingDir: '/srv/app/sub', ExposedPorts: { '8080/tcp': {}, '53/udp': {} }, Volumes: { '/data': {} }, StopSignal: 'SIGQUIT',
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9 }, Labels: { 'org.example': 'yes' }, OnBuild: ['RUN echo triggered'], Shell: ['/bin/sh', '-ec'],
    });
    // ONBUILD triggers run in the child build, then are cleared
    const child = await env.build({ dockerfile: 'FROM users:1\nCMD ["true"]\n' });
    expect(child.events).toContainEqual({ type: 'triggers', count: 1 });
    expect(child.events).toContainEqual({ type: 'output', stream: 'stdout', line: 'triggered' });
    expect(((await env.rt.images.config(child.imageId)).config as Record<string, unknown>).OnBuild).toBeNull();
  });

  it('COPY --chown and --chmod, file vs directory destinations, and no escape through symlinks in the image', async () => {
    const ctx = await env.context({ 'f.txt': 'f\n', 'dir/a': 'a\n', 'dir/sub/b': 'b\n' });
    await mkdir(join(ctx, 'empty'));
    await writeFile(join(ctx, 'Dockerfile'), '');
    const r = await env.build({
      contextDir: ctx,
      dockerfile: [
        'FROM busybox',
        'RUN ln -s /etc /link',
        'COPY --chown=app:staff --chmod=600 f.txt /owned.txt',
        'COPY dir /copied-dir',
        'COPY f.txt /renamed',
        'COPY f.txt /link/',
        'CMD ["sh", "-c", "stat -c \'%u %g %a\' /owned.txt; cat /copied-dir/a /copied-dir/sub/b /renamed; cat /etc/f.txt"]',
      ].join('\n'),
    });
    expect((await env.run(r.imageId)).stdout).toEqual(['1000 50 600', 'a', 'b', 'f', 'f']);
  });

  it('RUN has no network unless --network=host', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => res.end(req.url === '/file.txt' ? 'downloaded\n' : 'from-host\n'));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    try {
      const ok = await env.build({ dockerfile: `FROM busybox\nRUN --network=host busybox wget -q -O - http://127.0.0.1:${port}/\n` });
      expect(ok.events).toContainEqual({ type: 'output', stream: 'stdout', line: 'from-host' });
      await expect(env.build({ dockerfile: `FROM busybox\nRUN busybox wget -q -T 2 -O - http://127.0.0.1:${port}/\n` })).rejects.toThrow(/Dockerfile:2: RUN: step 2\/2: the command .* returned a non-zero code: 1/);
      // ADD of a URL downloads it (the builder fetches; RUN's network setting does not matter), with an optional --checksum
      const sum = createHash('sha256').update('downloaded\n').digest('hex');
      const dl = await env.build({ dockerfile: `FROM busybox\nADD --checksum=sha256:${sum} http://127.0.0.1:${port}/file.txt /dl/\n` });
      expect(await readFile((await env.layerFile(dl.imageId, 'dl/file.txt')) as string, 'utf8')).toBe('downloaded\n');
      await expect(env.build({ dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/file.txt /dl/\n` })).rejects.toThrow(
        /^Dockerfile:2: ADD: checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/file\.txt/,
      );
    } finally {
      server.close();
    }
  });
});
