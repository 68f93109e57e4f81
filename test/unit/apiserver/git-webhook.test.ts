import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeRepoUrl, pushedRef, RateLimiter, refMatches, verifySignature } from '../../../src/apiserver/git-webhook.js';

const body = Buffer.from('{"ref":"refs/heads/main"}');
const hmac = (algo: string, key: string) => createHmac(algo, key).update(body).digest('hex');

describe('git webhook', () => {
  it('verifies GitHub, Gitea, GitLab and generic HMAC signatures', () => {
    expect(verifySignature({ 'x-hub-signature-256': `sha256=${hmac('sha256', 't')}` }, body, 't')).toEqual({ ok: true, scheme: 'github' });
    expect(verifySignature({ 'x-gitea-signature': hmac('sha256', 't') }, body, 't')).toEqual({ ok: true, scheme: 'gitea' });
    expect(verifySignature({ 'x-gitlab-token': 't' }, body, 't')).toEqual({ ok: true, scheme: 'gitlab' });
    expect(verifySignature({ 'x-signature': `sha512=${hmac('sha512', 't')}` }, body, 't')).toEqual({ ok: true, scheme: 'generic' });
    expect(verifySignature({ 'x-hub-signature-256': `sha256=${hmac('sha256', 'u')}` }, body, 't')).toMatchObject({ ok: false });
    expect(verifySignature({ 'x-gitlab-token': 'tt' }, body, 't')).toMatchObject({ ok: false });
    expect(verifySignature({}, body, 't')).toMatchObject({ ok: false, reason: expect.stringMatching(/no signature/) });
  });

  it('matches a repository by any transport', () => {
    const want = 'github.com/team/site';
    for (const url of ['https://github.com/team/site.git', 'git@github.com:team/site.git', 'ssh://git@github.com/team/site', 'https://GitHub.com:443/team/site/']) expect(normalizeRepoUrl(url), url).toBe(want);
    expect(normalizeRepoUrl('https://github.com/team/other.git')).not.toBe(want);
  });

  it('matches pushed refs to followed refs', () => {
    expect(refMatches('main', 'refs/heads/main')).toBe(true);
    expect(refMatches('main', 'refs/heads/dev')).toBe(false);
    expect(refMatches(undefined, 'refs/heads/dev')).toBe(true);
    expect(refMatches('^1.2.0', 'refs/tags/v1.3.0')).toBe(true);
    expect(refMatches('v1.2.0', 'refs/tags/v1.2.0')).toBe(true);
    expect(refMatches('main', 'refs/tags/v1.3.0')).toBe(false);
    expect(refMatches('main', undefined)).toBe(true);
    expect(pushedRef(body, 'application/json')).toBe('refs/heads/main');
    expect(pushedRef(Buffer.from(`payload=${encodeURIComponent('{"ref":"refs/tags/v1"}')}`), 'application/x-www-form-urlencoded')).toBe('refs/tags/v1');
    expect(pushedRef(Buffer.from('not json'), 'application/json')).toBeUndefined();
  });

  it('rate-limits with token buckets', () => {
    let t = 0;
    const rl = new RateLimiter(2, 1, () => t);
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('b')]).toEqual([true, true, false, true]);
    t = 1000;
    expect(rl.take('a')).toBe(true);
    expect(rl.take('a')).toBe(false);
  });
});
