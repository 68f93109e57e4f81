/** Runs `berth server` as a real child process (through tsx, from source). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { berthArgv, ROOT } from './berth-bin.js';
import { fetchTrusting } from './tls-fetch.js';
import { testNetworkFlags } from './test-network.js';


export interface ServerProcess {
  child: ChildProcess;
  url: string;
  token: string;
  kubeconfig: string;
  output(): string;
  api(path: string, init?: RequestInit): Promise<Response>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `berth ROLE` (server, or apiserver: the API alone) as a child process, once it listens. */
export async function startServerProcess(dataDir: string, extraArgs: string[] = [], role: 'server' | 'apiserver' = 'server'): Promise<ServerProcess> {
  // a default network of its own that reaches nothing outside the machine, unless the test chose one
  const net = role === 'apiserver' || extraArgs.some((a) => a.startsWith('--default-') || a === '--no-agent') ? [] : testNetworkFlags();
  const child = spawn(...berthArgv([role, '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...net, ...extraArgs]), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setInterval(() => {
      const m = /API listening on (https?:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolveUrl(m[1]!);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`berth server exited with ${code}:\n${out}`));
    });
  });
  const kubeconfig = join(dataDir, 'kubeconfig');
  if (!existsSync(kubeconfig)) throw new Error('berth server wrote no kubeconfig');
  const cfg = parse(readFileSync(kubeconfig, 'utf8')) as { users: { user: { token: string } }[]; clusters: { cluster: Record<string, string> }[] };
  const token = cfg.users[0]!.user.token;
  const tlsFetch = fetchTrusting(Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString());
  return {
    child,
    url,
    token,
    kubeconfig,
    output: () => out,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return tlsFetch(`${url}${path}`, { ...init, headers });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
