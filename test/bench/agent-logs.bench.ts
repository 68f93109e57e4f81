/**
 * The cost of a `logs` request through the API server (issue 17, agent connection): an in-process
 * all-in-one node (API server over HTTPS, agent, runc + conmon), one running container with 20 log
 * lines; N sequential GET containers/NAME/log?tailLines=10 with the admin token, each timed from
 * request to last byte. Standalone: `npx tsx test/bench/agent-logs.bench.ts` (root, BENCH_LOGS_N).
 */
import { phaseOf, containerManifest, imageManifest, runtimeSkipReason, startTestNode } from '../integration/agent/helpers.js';
import { fmt, printTable, summary } from './lib/stats.js';

const N = Number(process.env.BENCH_LOGS_N ?? 300);
const WARMUP = 20;

async function main(): Promise<void> {
  const skip = runtimeSkipReason();
  if (skip) throw new Error(`agent-logs bench: ${skip}`);
  const t = await startTestNode();
  try {
    await t.apply(imageManifest(t.tarball));
    await t.apply(containerManifest('talker', { command: ['sh', '-c', 'for i in $(seq 1 20); do echo line $i; done; exec sleep 3600'] }));
    for (let i = 0; i < 600 && phaseOf(await t.container('talker')) !== 'Running'; i++) await new Promise((r) => setTimeout(r, 100));
    if (phaseOf(await t.container('talker')) !== 'Running') throw new Error('the container did not run');
    const path = '/apis/berth.dev/v1alpha1/namespaces/default/containers/talker/log?tailLines=10';
    const once = async (): Promise<number> => {
      const start = process.hrtime.bigint();
      const r = await t.api(path);
      const text = await r.text();
      if (r.status !== 200 || !text.includes('line 20')) throw new Error(`logs: ${r.status} ${text.slice(0, 200)}`);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    for (let i = 0; i < WARMUP; i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < N; i++) samples.push(await once());
    const s = summary(samples);
    printTable(['logs through the API', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [['GET .../log?tailLines=10', s.n, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p99, 2), fmt(s.max, 2)]]);
  } finally {
    await t.cleanup();
  }
}

await main();
