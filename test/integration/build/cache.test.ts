import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSkipReason, setupBuildEnv, stepCount, type BuildEnv } from './helpers.js';

const skip = buildSkipReason();
if (skip) console.warn(`skipping build cache tests: ${skip}`);

// every RUN writes a fresh random UUID: if a RUN executed again, its file would change
const DOCKERFILE = [
  'FROM busybox',
  'RUN cat /proc/sys/kernel/random/uuid > /s1',
  'COPY a.txt /a.txt',
  'RUN cat /proc/sys/kernel/random/uuid > /s2',
  'COPY b.txt /b.txt',
  'RUN cat /proc/sys/kernel/random/uuid > /s3',
  'CMD ["cat", "/s1", "/s2", "/s3", "/a.txt", "/b.txt"]',
].join('\n');

describe.skipIf(skip !== undefined)("build cache (Docker's rules)", () => {
  let env: BuildEnv;
  let ctx: string;
  const stamps = async (image: string): Promise<string[]> => {
    const out: string[] = [];
    for (const f of ['s1', 's2', 's3']) out.push(await readFile((await env.layerFile(image, f)) as string, 'utf8'));
    return out;
  };

  beforeAll(async () => {
    env = await setupBuildEnv('cache');
    ctx = await env.context({ 'a.txt': 'a1\n', 'b.txt': 'b1\n', Dockerfile: DOCKERFILE });
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('a second build of an unchanged context runs no RUN and yields the same image', async () => {
    const first = await env.build({ contextDir: ctx, dockerfile: DOCKERFILE, tags: ['cached:1'] });
    expect(first.executedRuns).toBe(3);
    const before = await stamps(first.imageId);
    const second = await env.build({ contextDir: ctx, dockerfile: DOCKERFILE, tags: ['cached:1', 'cached:again'] });
    expect(second.executedRuns).toBe(0);
    expect(stepCount(second.events, 'running')).toBe(0);
    expect(stepCount(second.events, 'cached')).toBe(5);
    expect(second.imageId).toBe(first.imageId);
    expect(await stamps(second.imageId)).toEqual(before);
    expect(await env.rt.images.namesOf(second.imageId)).toEqual(['cached:1', 'cached:again']);
    expect(await env.rt.containers.list({ all: true })).toEqual([]);
  });

  it('changing one copied file rebuilds from that step on, and not before', async () => {
    const before = await stamps('cached:1');
    await writeFile(join(ctx, 'b.txt'), 'b2\n');
    const r = await env.build({ contextDir: ctx, dockerfile: DOCKERFILE, tags: ['cached:2'] });
    expect(r.executedRuns).toBe(1);
    expect(stepCount(r.events, 'cached')).toBe(3); // RUN s1, COPY a.txt, RUN s2
    const after = await stamps(r.imageId);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after[2]).not.toEqual(before[2]);
    expect((await env.run(r.imageId)).stdout.slice(3)).toEqual(['a1', 'b2']);
  });

  it('only the content counts: touching a file (new mtime, same bytes) keeps the cache', async () => {
    await writeFile(join(ctx, 'a.txt'), 'a1\n');
    const r = await env.build({ contextDir: ctx, dockerfile: DOCKERFILE });
    expect(r.executedRuns).toBe(0);
  });

  it('a changed instruction or build arg misses from that step; --no-cache runs everything', async () => {
    const withArg = DOCKERFILE.replace('COPY b.txt /b.txt', 'ARG V=1\nCOPY b.txt /b.txt');
    const a = await env.build({ contextDir: ctx, dockerfile: withArg });
    expect(a.executedRuns).toBe(1); // the RUN after the ARG sees V as an env var
    const same = await env.build({ contextDir: ctx, dockerfile: withArg, buildArgs: { V: '1' } });
    expect(same.executedRuns).toBe(0);
    const other = await env.build({ contextDir: ctx, dockerfile: withArg, buildArgs: { V: '2' } });
    expect(other.executedRuns).toBe(1);
    const none = await env.build({ contextDir: ctx, dockerfile: DOCKERFILE, noCache: true });
    expect(none.executedRuns).toBe(3);
    expect(stepCount(none.events, 'cached')).toBe(0);
  });

  it('keeps the cache index on disk: a new Builder on the same root reuses it', async () => {
    const { Builder } = await import('../../../src/runtime/build/builder.js');
    const events: string[] = [];
    const r = await new Builder(env.rt).build({ contextDir: ctx, dockerfile: DOCKERFILE }, { onEvent: (e) => events.push(e.type) });
    expect(r.executedRuns).toBe(0);
    expect(events.filter((e) => e === 'cached').length).toBe(5);
  });
});
