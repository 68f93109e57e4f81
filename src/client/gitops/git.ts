/**
 * Runs the git command for the GitSync source, hardened: argument arrays only (`--` before every
 * positional that comes from a user), no user or system config, no hooks, only the https, http,
 * ssh, git and file transports (ext:: and fd:: never), no terminal prompts, bounded output and a
 * deadline per command. Credentials never go into a URL, a command line or a log: http(s) ones are
 * handed to git by GIT_ASKPASS, a script that prints environment variables of the git process only;
 * an SSH key and known_hosts are written to 0600 files in a 0700 temp directory named by
 * GIT_SSH_COMMAND, removed when the command ends.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface GitCredentials {
  /** http(s): basic auth. A token alone is sent as the password of user "git". */
  username?: string;
  password?: string;
  token?: string;
  /** ssh: private key (PEM/OpenSSH) and known_hosts lines. */
  identity?: string;
  knownHosts?: string;
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

export interface GitRunOptions {
  /** Directory to run in (a bare cache repository); none for ls-remote. */
  cwd?: string;
  credentials?: GitCredentials | undefined;
  /** Largest stdout accepted (default 64 MiB). */
  maxStdout?: number;
  timeoutMs?: number;
  /** Bytes for stdin (cat-file --batch). */
  input?: Buffer | string;
}

/** Config that overrides whatever a repository or the environment could set. */
const HARDENING = [
  '-c', 'protocol.allow=never',
  '-c', 'protocol.https.allow=always',
  '-c', 'protocol.http.allow=always',
  '-c', 'protocol.ssh.allow=always',
  '-c', 'protocol.git.allow=always',
  '-c', 'protocol.file.allow=always',
  '-c', 'protocol.ext.allow=never',
  '-c', 'protocol.fd.allow=never',
  '-c', 'credential.helper=',
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.askPass=',
  '-c', 'http.followRedirects=initial',
  '-c', 'gc.auto=0',
  '-c', 'maintenance.auto=false',
];

const MAX_STDERR = 64 * 1024;

/** Replaces anything URL-userinfo-like in git's messages, in case a server echoes one. */
export function scrub(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

export class GitCli {
  private askpass: string | undefined;
  private ready: Promise<unknown> | undefined;

  constructor(
    /** A private directory (0700) for the askpass script and per-command temp files. */
    private readonly stateDir: string,
  ) {}

  private async askpassScript(): Promise<string> {
    if (this.askpass) return this.askpass;
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const path = join(this.stateDir, 'askpass.sh');
    // Prints only what the git process that runs it was given; nothing secret lives in this file.
    const script = '#!/bin/sh\ncase "$1" in\n  [Uu]sername*) printf \'%s\\n\' "$BERTH_GIT_USERNAME" ;;\n  *) printf \'%s\\n\' "$BERTH_GIT_PASSWORD" ;;\nesac\n';
    await writeFile(path, script, { mode: 0o700 });
    await chmod(path, 0o700);
    this.askpass = path;
    return path;
  }

  /** Runs `git ARGS` and resolves with stdout; GitError (stderr scrubbed) on failure. */
  async run(args: string[], o: GitRunOptions = {}): Promise<Buffer> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.stateDir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_PROTOCOL_FROM_USER: '0',
      GIT_ALLOW_PROTOCOL: 'https:http:ssh:git:file',
      LC_ALL: 'C',
      GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes',
    };
    let tmp: string | undefined;
    const c = o.credentials;
    this.ready ??= mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await this.ready;
    try {
      if (c && (c.password !== undefined || c.token !== undefined)) {
        env.GIT_ASKPASS = await this.askpassScript();
        env.BERTH_GIT_USERNAME = c.username ?? 'git';
        env.BERTH_GIT_PASSWORD = c.password ?? c.token ?? '';
      }
      if (c?.identity !== undefined) {
        await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
        tmp = await mkdtemp(join(this.stateDir, 'ssh-'));
        const key = join(tmp, 'identity');
        const known = join(tmp, 'known_hosts');
        await writeFile(key, c.identity.endsWith('\n') ? c.identity : `${c.identity}\n`, { mode: 0o600 });
        await writeFile(known, c.knownHosts ?? '', { mode: 0o600 });
        // the paths are ours (no spaces or quotes): the shell git runs this through sees plain words
        env.GIT_SSH_COMMAND = `ssh -i ${key} -o IdentitiesOnly=yes -o UserKnownHostsFile=${known} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes`;
      }
      return await this.spawnGit([...HARDENING, ...args], env, o);
    } finally {
      if (tmp) await rm(tmp, { recursive: true, force: true });
    }
  }

  private spawnGit(args: string[], env: NodeJS.ProcessEnv, o: GitRunOptions): Promise<Buffer> {
    const maxStdout = o.maxStdout ?? 64 << 20;
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, { cwd: o.cwd ?? this.stateDir, env, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let outLen = 0;
      let err = '';
      let failure: Error | undefined;
      const timer = setTimeout(() => {
        failure = new GitError(`git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''}: no answer within ${(o.timeoutMs ?? 120_000) / 1000} s`, err, null);
        child.kill('SIGKILL');
      }, o.timeoutMs ?? 120_000);
      child.stdout.on('data', (d: Buffer) => {
        outLen += d.length;
        if (outLen > maxStdout) {
          failure ??= new GitError(`git printed more than ${maxStdout} bytes`, '', null);
          child.kill('SIGKILL');
          return;
        }
        out.push(d);
      });
      child.stderr.on('data', (d: Buffer) => {
        if (err.length < MAX_STDERR) err += d.toString('utf8');
      });
      child.stdin.on('error', () => undefined);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new GitError(`cannot run git: ${e.message}`, '', null));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (code !== 0) {
          const msg = scrub(err.trim().split('\n').filter((l) => l.trim()).slice(-3).join('; ')) || `git exited with ${code}`;
          return reject(new GitError(msg, scrub(err), code));
        }
        resolve(Buffer.concat(out));
      });
      child.stdin.end(o.input);
    });
  }
}
