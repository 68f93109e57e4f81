/**
 * Found as a new user would (issue 17, deliver 12): `berth server --apply manifests/examples` logs
 * one structured line per event (no client dumps, no stacks), and `kubectl diff -R -f
 * manifests/examples` of the unchanged examples prints nothing and exits 0, however they were first
 * applied (berth apply at start, kubectl apply, kubectl apply --server-side, kubectl create).
 * Before, every object showed `+  annotations: {}` and diff exited 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/berth-bin.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const EXAMPLES = join(ROOT, 'manifests/examples');
const haveKubectl = spawnSync('sh', ['-c', 'command -v kubectl']).status === 0;

describe.skipIf(!haveKubectl)('the examples, unchanged, diff clean', () => {
  let dir: string;
  let server: ServerProcess;
  const kc = (...args: string[]) => run('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { timeoutMs: 60_000 });
  const diffIsClean = async () => {
    const d = await kc('diff', '-R', '-f', EXAMPLES);
    expect(d.stdout).toBe('');
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
  };
  const deleteAll = async () => {
    const del = await kc('delete', '-R', '-f', EXAMPLES, '--ignore-not-found', '--wait=true', '--timeout=60s');
    expect(del.code, del.stderr).toBe(0);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-diff-'));
    server = await startServerProcess(join(dir, 'data'), ['--no-agent', '--no-registry', '--apply', EXAMPLES]);
  });
  afterAll(async () => {
    await server?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('berth server --apply logs one JSON line per event: no client dumps, no stacks', async () => {
    await expect.poll(() => server.output(), { timeout: 30_000 }).toContain('container.berth.dev/once created');
    const lines = server.output().split('\n').filter((l) => l.trim() !== '');
    const logLines = lines.filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThanOrEqual(3);
    for (const l of logLines) {
      const rec = JSON.parse(l) as { level: number; msg: string; component: string; time: string };
      expect(typeof rec.msg).toBe('string');
      expect(rec.level).toBeLessThan(50); // nothing at error level when all goes well
    }
    // the rest is the apply's own user output (as `berth apply` prints it)
    for (const l of lines.filter((x) => !x.startsWith('{'))) expect(l).toMatch(/^\S+\.berth\.dev\/\S+ (created|configured|unchanged)$|^namespace\/\S+ (created|configured|unchanged)$/);
    expect(server.output()).not.toMatch(/HTTP-Code|Unknown API Status Code|Headers:|\n\s+at /);
  });

  it('kubectl diff is silent after berth server --apply', async () => {
    await diffIsClean();
  });

  for (const how of [['apply'], ['apply', '--server-side'], ['create']]) {
    it(`kubectl diff is silent after kubectl ${how.join(' ')}`, async () => {
      await deleteAll();
      const applied = await kc(...how, '-R', '-f', EXAMPLES);
      expect(applied.code, applied.stderr).toBe(0);
      await diffIsClean();
    });
  }
});
