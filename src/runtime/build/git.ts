/**
 * git for build contexts (an Image's spec.source.build.context.git), hardened because the URL and
 * ref come from an object anyone with write access to Images wrote: URLs are checked against the
 * allowed schemes (https, http, ssh and git; file and local paths only where the node allows them;
 * never a remote helper such as ext::), every positional argument comes after `--` so that nothing
 * can be taken for an option (`--upload-pack=...`), the ext transport and every protocol not allowed
 * are off through -c, hooks and fsmonitor are off, no prompt is ever shown, output is bounded and a
 * command that hangs is killed.
 */
import { spawn } from 'node:child_process';
import { invalid } from '../util/errors.js';

export interface GitPolicy {
  /** file:// URLs and local paths (a repository on the node): off unless the node allows them. */
  allowFile?: boolean;
  /** Per git command (default 5 minutes). */
  timeoutMs?: number;
}

const REMOTE_SCHEMES = ['https', 'http', 'ssh', 'git'];
const OUTPUT_LIMIT = 64 * 1024;

/** Refuses a URL git must not be given (naming `field`); returns the kind it is. */
export function checkGitUrl(url: string, policy: GitPolicy, field = 'url'): 'remote' | 'file' {
  if (url === '' || /[\s\0]/.test(url)) throw invalid(`${field}: a git URL has no spaces or control characters`);
  if (url.startsWith('-')) throw invalid(`${field}: "${url}" starts with "-": not a URL`);
  const helper = /^([A-Za-z][A-Za-z0-9+.-]*)::/.exec(url);
  if (helper) throw invalid(`${field}: remote helpers (${helper[1]}::) are not allowed`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === 'file') {
      if (!policy.allowFile) throw invalid(`${field}: file:// URLs are not allowed on this node (the agent's --git-allow-file-urls)`);
      return 'file';
    }
    if (!REMOTE_SCHEMES.includes(scheme)) throw invalid(`${field}: scheme "${scheme}" is not allowed (${REMOTE_SCHEMES.join(', ')})`);
    const host = /^[^:]+:\/\/(?:[^@/]*@)?([^/:]*)/.exec(url)?.[1] ?? '';
    if (host.startsWith('-')) throw invalid(`${field}: host "${host}" starts with "-"`);
    return 'remote';
  }
  // scp-like user@host:path (ssh), as git takes a colon before the first slash
  const scp = /^(?:[^@/:]+@)?([^/:]+):/.exec(url);
  if (scp) {
    if (scp[1]?.startsWith('-')) throw invalid(`${field}: host "${scp[1]}" starts with "-"`);
    return 'remote';
  }
  if (!policy.allowFile) throw invalid(`${field}: local repository paths are not allowed on this node (the agent's --git-allow-file-urls)`);
  return 'file';
}

/** git refs and revisions as the fetch takes them: no option, no control characters. */
export function checkGitRef(ref: string, field = 'ref'): void {
  if (ref.startsWith('-') || /[\s\0~^:?*[\\]/.test(ref) || ref.includes('..')) throw invalid(`${field}: "${ref}" is not a branch, tag or commit name`);
}

/** -c settings every command gets: only the allowed transports, no ext, no hooks, no fsmonitor. */
function hardening(policy: GitPolicy): string[] {
  const c = (kv: string): string[] => ['-c', kv];
  return [
    ...c('protocol.allow=never'),
    ...REMOTE_SCHEMES.flatMap((s) => c(`protocol.${s}.allow=always`)),
    ...c(`protocol.file.allow=${policy.allowFile ? 'always' : 'never'}`),
    ...c('protocol.ext.allow=never'),
    ...c('core.hooksPath=/dev/null'),
    ...c('core.fsmonitor=false'),
    ...c('advice.detachedHead=false'),
  ];
}

/** Runs one git command with the hardening; its stdout (trimmed), or an error with the last line git printed. */
export function runGit(args: string[], o: GitPolicy & { cwd?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...hardening(o), ...args], {
      cwd: o.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes', GIT_CONFIG_NOSYSTEM: '1', GIT_PROTOCOL_FROM_USER: '0' },
    });
    let out = '';
    let err = '';
    const keep = (acc: string, d: Buffer): string => (acc.length >= OUTPUT_LIMIT ? acc : acc + d.toString().slice(0, OUTPUT_LIMIT - acc.length));
    child.stdout.on('data', (d: Buffer) => (out = keep(out, d)));
    child.stderr.on('data', (d: Buffer) => (err = keep(err, d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`git could not be run: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`git ${args.find((a) => !a.startsWith('-')) ?? ''} failed: ${signal ? `killed by ${signal} (timeout)` : (err.trim().split('\n').pop() ?? '')}`));
    });
  });
}

/**
 * Fetches `ref` (default HEAD) of the repository at `url` into a new repository at `dir` and checks
 * it out; the commit it is at.
 */
export async function fetchGitContext(dir: string, url: string, ref: string | undefined, policy: GitPolicy): Promise<string> {
  checkGitUrl(url, policy);
  if (ref !== undefined) checkGitRef(ref);
  await runGit(['init', '-q', '--', dir], policy);
  await runGit(['fetch', '-q', '--depth', '1', '--no-tags', '--', url, ref ?? 'HEAD'], { ...policy, cwd: dir });
  await runGit(['checkout', '-q', '--detach', 'FETCH_HEAD', '--'], { ...policy, cwd: dir });
  return runGit(['rev-parse', '--verify', 'HEAD^{commit}'], { ...policy, cwd: dir });
}
