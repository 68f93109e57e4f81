import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSkipReason, leftovers, setupBuildEnv, type BuildEnv } from './helpers.js';

const skip = buildSkipReason();
if (skip) console.warn(`skipping build error tests: ${skip}`);

describe.skipIf(skip !== undefined)('bad builds: clear errors with the line, nothing left behind', () => {
  let env: BuildEnv;
  let imagesBefore: string[];

  beforeAll(async () => {
    env = await setupBuildEnv('errors');
    imagesBefore = (await env.rt.images.ids()).sort();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const clean = async (): Promise<void> => {
    expect(await leftovers(env)).toEqual({ containers: 0, mounts: [], active: [], tmp: [] });
    expect((await env.rt.images.ids()).sort()).toEqual(imagesBefore);
  };

  it('an unknown instruction', async () => {
    await expect(env.build({ dockerfile: 'FROM busybox\nRUN true\nFOO bar\n', dockerfileName: 'Dockerfile.dev', tags: ['bad:1'] })).rejects.toThrow(
      /^Dockerfile\.dev:3: unknown instruction: FOO$/,
    );
    await clean();
  });

  it('a missing base image', async () => {
    await expect(env.build({ dockerfile: '# base\nFROM nosuch/image:1\nRUN true\n', tags: ['bad:2'] })).rejects.toThrow(
      /^Dockerfile:2: FROM: image "nosuch\/image:1" not found in the local image store/,
    );
    await clean();
  });

  it('a failing RUN names the step and the exit code, after earlier steps succeeded', async () => {
    const ctx = await env.context({ 'f.txt': 'x\n' });
    await expect(
      env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nCOPY f.txt /f\nRUN echo partial > /p && exit 3\nCMD ["true"]\n', tags: ['bad:3'] }),
    ).rejects.toThrow("Dockerfile:3: RUN: step 3/4: the command '/bin/sh -c echo partial > /p && exit 3' returned a non-zero code: 3");
    await clean();
    expect(await env.rt.images.exists('bad:3')).toBe(false);
  });

  it('a COPY source outside the context, missing sources, and bad flags', async () => {
    const ctx = await env.context({ 'f.txt': 'x\n' });
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nCOPY ../../etc/passwd /x\n' })).rejects.toThrow(
      /^Dockerfile:2: COPY: forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd$/,
    );
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nCOPY *.none /x/\n' })).rejects.toThrow(/^Dockerfile:2: COPY: "\*\.none": no source files match/);
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nCOPY f.txt f.txt /x\n' })).rejects.toThrow(/Dockerfile:2: COPY: When using COPY with more than one source file, the destination must be a directory and end with a \//);
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nENV --bogus A=1\n' })).rejects.toThrow(/^Dockerfile:2: ENV: unknown flag: --bogus$/);
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nCOPY --chown=nobody-here f.txt /x\n' })).rejects.toThrow(/^Dockerfile:2: COPY: --chown=nobody-here: unable to find user nobody-here/);
    await expect(env.build({ contextDir: ctx, dockerfile: 'FROM busybox\nENV A=${B:?must-be-set}\n' })).rejects.toThrow(/^Dockerfile:2: ENV: B: must-be-set$/);
    await clean();
  });

  it('a cancelled build stops its RUN container and cleans up', async () => {
    const { Builder } = await import('../../../src/runtime/build/builder.js');
    const abort = new AbortController();
    const p = new Builder(env.rt).build(
      { contextDir: await env.context({}), dockerfile: 'FROM busybox\nRUN echo started; sleep 30\n' },
      { signal: abort.signal, onEvent: (e) => e.type === 'output' && abort.abort() },
    );
    await expect(p).rejects.toThrow(/build cancelled/);
    await clean();
  });
});
