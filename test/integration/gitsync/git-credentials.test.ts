/**
 * How the git CLI gets credentials: never on a command line or in a URL. A fake `ssh` first on
 * PATH records what git runs it with (GIT_SSH_COMMAND) and the files it is given; a small http
 * server records what git sends (basic auth from GIT_ASKPASS).
 */
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitCli } from '../../../src/client/gitops/git.js';

describe('git credentials', () => {
  let dir: string;
  let savedPath: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-gitcreds-'));
    savedPath = process.env.PATH;
    // a fake ssh: logs its arguments, the mode and content of the -i and UserKnownHostsFile files, and fails
    await writeFile(
      join(dir, 'ssh'),
      `#!/bin/sh\nlog=${dir}/ssh.log\necho "ARGS $*" >> $log\nwhile [ $# -gt 0 ]; do\n  case "$1" in\n    -i) echo "KEY $(stat -c %a "$2") $(cat "$2")" >> $log; shift ;;\n    -o) case "$2" in UserKnownHostsFile=*) f=\${2#UserKnownHostsFile=}; echo "KNOWN $(stat -c %a "$f") $(cat "$f")" >> $log ;; esac; shift ;;\n  esac\n  shift\ndone\necho "ssh: connect refused" >&2\nexit 255\n`,
    );
    await chmod(join(dir, 'ssh'), 0o755);
    process.env.PATH = `${dir}:${savedPath ?? ''}`;
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it('hands an SSH key and known_hosts to ssh as 0600 files that are gone afterwards', async () => {
    const state = join(dir, 'state');
    const git = new GitCli(state);
    const err = await git.run(['ls-remote', '--', 'ssh://git@host.invalid/team/repo.git'], { credentials: { identity: 'PRIVATE-KEY-MATERIAL', knownHosts: 'host.invalid ssh-ed25519 AAAAKEY' }, timeoutMs: 20_000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const log = await readFile(join(dir, 'ssh.log'), 'utf8');
    expect(log).toMatch(/^KEY 600 PRIVATE-KEY-MATERIAL$/m);
    expect(log).toMatch(/^KNOWN 600 host\.invalid ssh-ed25519 AAAAKEY$/m);
    expect(log).toMatch(/StrictHostKeyChecking=yes/);
    expect(log).toMatch(/BatchMode=yes/);
    expect(log.split('\n').find((l) => l.startsWith('ARGS'))).not.toContain('PRIVATE-KEY-MATERIAL');
    expect((await readdir(state)).filter((n) => n.startsWith('ssh-'))).toEqual([]);
  });

  it('sends http credentials as basic auth through askpass, never in the URL or the command line', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const git = new GitCli(join(dir, 'state2'));
      const err = (await git.run(['ls-remote', '--', `http://127.0.0.1:${port}/repo.git`], { credentials: { username: 'deploy', password: 'pa55' }, timeoutMs: 20_000 }).catch((e: Error) => e)) as Error;
      expect(seen.some((s) => s.endsWith(`Basic ${Buffer.from('deploy:pa55').toString('base64')}`))).toBe(true);
      expect(seen.every((s) => !s.includes('pa55'))).toBe(true);
      expect(err.message).not.toContain('pa55');
      expect(await readFile(join(dir, 'state2', 'askpass.sh'), 'utf8')).not.toContain('pa55');
    } finally {
      server.close();
    }
  });
});
