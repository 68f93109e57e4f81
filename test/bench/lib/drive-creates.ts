// Temporary driver: N creates with 8 clients against a running berth server's kubeconfig.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { parse } from 'yaml';
const [kubeconfig, nArg] = process.argv.slice(2);
const cfg = parse(readFileSync(kubeconfig!, 'utf8')) as any;
const url = cfg.clusters[0].cluster.server;
const ca = Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
const d = new Agent({ connect: { ca }, connections: 16 });
const headers = { authorization: `Bearer ${cfg.users[0].user.token}`, 'content-type': 'application/json' };
let next = 0; const N = Number(nArg ?? 3000);
const t0 = performance.now();
await Promise.all(Array.from({ length: 8 }, async () => { for (let i = next++; i < N; i = next++) { const r = await fetch(`${url}/apis/berth.dev/v1alpha1/namespaces/default/volumes`, { method: 'POST', headers, dispatcher: d, body: JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Volume', metadata: { name: `v${i}` }, spec: {} }) }); await r.arrayBuffer(); } }));
console.log('creates/s', (N / ((performance.now() - t0) / 1000)).toFixed(0));
await d.close();
