/**
 * Real git repositories for GitSync tests: a bare repository (the "remote") and a work tree that
 * commits and pushes with the git CLI, served over file:// and, with serveHttp, over http by
 * `git http-backend` (CGI) behind a small Node server with basic auth, on loopback only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

function git(cwd: string, args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

export interface TestRepo {
  /** Directory of the bare repository. */
  bare: string;
  /** file:// URL of it. */
  url: string;
  work: string;
  /** Writes (or, with null, removes) files, commits them and pushes; resolves with the commit id. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  tag(name: string, rev?: string): void;
  head(): string;
}

export async function makeRepo(dir: string, branch = 'main'): Promise<TestRepo> {
  const bare = join(dir, 'remote.git');
  const work = join(dir, 'work');
  await mkdir(dir, { recursive: true });
  git(dir, ['init', '--quiet', '--bare', '-b', branch, bare]);
  git(bare, ['config', 'http.receivepack', 'true']);
  git(dir, ['init', '--quiet', '-b', branch, work]);
  return {
    bare,
    url: `file://${bare}`,
    work,
    async commit(files, message = 'change') {
      for (const [path, content] of Object.entries(files)) {
        const p = join(work, path);
        if (content === null) await rm(p, { force: true });
        else {
          await mkdir(dirname(p), { recursive: true });
          await writeFile(p, content);
        }
      }
      git(work, ['add', '-A']);
      git(work, ['commit', '--quiet', '--allow-empty', '-m', message]);
      git(work, ['push', '--quiet', '--force', bare, `HEAD:refs/heads/${branch}`]);
      return git(work, ['rev-parse', 'HEAD']);
    },
    tag(name, rev = 'HEAD') {
      git(work, ['tag', '-f', name, rev]);
      git(work, ['push', '--quiet', '--force', bare, `refs/tags/${name}`]);
    },
    head() {
      return git(work, ['rev-parse', 'HEAD']);
    },
  };
}

export interface GitHttpServer {
  /** Base URL; a repository at ROOT/NAME.git is URL/NAME.git. */
  url: string;
  /** Requests seen (method and path), to tell whether anything was fetched. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves the bare repositories under `root` with `git http-backend`, asking for basic auth
 * `user`/`password` (401 otherwise), on 127.0.0.1.
 */
export async function serveHttp(root: string, user: string, password: string): Promise<GitHttpServer> {
  const requests: string[] = [];
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
      res.end('unauthorized');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    child.on('close', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** YAML of an object. */
export function yamlOf(obj: object): string {
  return stringify(obj);
}
