import { describe, expect, it } from 'vitest';
import { gitUrlProblem, webhookId } from '../../../src/api/gitsync.js';

describe('GitSync repository URLs', () => {
  it('accepts https, http, ssh, git, file and scp-like ssh URLs', () => {
    for (const url of ['https://git.example.com/team/site.git', 'http://127.0.0.1:8080/repo.git', 'ssh://git@host.example/team/site.git', 'git://host/repo', 'file:///srv/git/site.git', 'git@github.com:team/site.git']) {
      expect(gitUrlProblem(url), url).toBeUndefined();
    }
  });

  it('refuses other transports, options and credentials in the URL, naming why', () => {
    expect(gitUrlProblem('ext::sh -c touch% /tmp/pwned')).toMatch(/spaces/);
    expect(gitUrlProblem('ext::ssh')).toMatch(/scheme "ext" is not allowed/);
    expect(gitUrlProblem('fd::17')).toMatch(/scheme "fd" is not allowed/);
    expect(gitUrlProblem('-uhelp')).toMatch(/must not start with "-"/);
    expect(gitUrlProblem('/srv/git/site.git')).toMatch(/must be a URL/);
    expect(gitUrlProblem('https://user:pass@example.com/r.git')).toMatch(/password.*secretRef/);
    expect(gitUrlProblem('https://token@example.com/r.git')).toMatch(/user name.*secretRef/);
    expect(gitUrlProblem('file://relative/path')).toMatch(/absolute path/);
  });
});

describe('webhookId', () => {
  it('is a keyed hash of the uid: stable, different per token and per uid', () => {
    const id = webhookId('token', 'uid-1');
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(webhookId('token', 'uid-1')).toBe(id);
    expect(webhookId('other', 'uid-1')).not.toBe(id);
    expect(webhookId('token', 'uid-2')).not.toBe(id);
  });
});
