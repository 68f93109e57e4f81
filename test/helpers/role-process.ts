/** A berth role (`berth apiserver`, `berth agent`, ...) as a child process, for tests that kill and restart them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { berthArgv, ROOT } from './berth-bin.js';

export interface RoleProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM (or the signal given) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  alive(): boolean;
}

/** Starts `berth ARGS` and resolves once its output matches `ready` (rejects if it exits first). */
export async function startRole(args: string[], ready: RegExp): Promise<RoleProcess> {
  const [cmd, argv] = berthArgv(args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`berth ${args[0]} exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
