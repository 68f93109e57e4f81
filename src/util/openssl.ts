/** The openssl command, for the CA's certificates (apiserver) and a node's key and request (agent). */
import { spawn } from 'node:child_process';

/** Runs `openssl ARGS` with `input` on stdin; resolves with its stdout, rejects naming the subcommand and openssl's message. */
export function openssl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`openssl could not be run (install the openssl package): ${e.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`openssl ${args[0]} failed: ${err.trim()}`))));
    if (input !== undefined) child.stdin!.end(input);
  });
}
