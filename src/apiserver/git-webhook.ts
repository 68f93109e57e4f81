/**
 * POST /hooks/git/{id}: push notifications for GitSyncs, without a bearer token (GitHub, Gitea and
 * GitLab cannot send one). The id is an HMAC of the GitSync's uid under its webhook token
 * (webhookId in src/api/gitsync.ts), so it cannot be guessed from a name; the request must then be
 * signed with that token: GitHub's X-Hub-Signature-256, Gitea's X-Gitea-Signature (and Gogs'),
 * GitLab's X-Gitlab-Token, or a generic X-Signature: sha256=HEX (or sha512=). A good request
 * annotates every GitSync of that namespace whose URL and ref match the push with
 * berth.dev/requested-at; the controller watches that annotation and fetches at once. The API
 * server never fetches anything itself and imports nothing of the controllers. Requests are rate
 * limited per id and overall; bodies are bounded.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { REQUESTED_AT_ANNOTATION, webhookId, WEBHOOK_PREFIX, type GitSync } from '../api/gitsync.js';
import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import type { Resources } from './resources.js';
import { ApiError } from './status.js';

const MAX_BODY = 4 << 20;

/** Token buckets: `burst` requests at once, refilled at `perSecond`. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): boolean {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (this.buckets.size > 10_000) this.buckets.clear();
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const hmac = (algo: 'sha256' | 'sha512', token: string, body: Buffer): string => createHmac(algo, token).update(body).digest('hex');

/** Whether the request is signed with `token` by one of the supported schemes; the scheme, or why not. */
export function verifySignature(headers: Record<string, string | string[] | undefined>, body: Buffer, token: string): { ok: true; scheme: string } | { ok: false; reason: string } {
  const h = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const github = h('x-hub-signature-256');
  if (github !== undefined) return sameText(github.trim().toLowerCase(), `sha256=${hmac('sha256', token, body)}`) ? { ok: true, scheme: 'github' } : { ok: false, reason: 'X-Hub-Signature-256 does not match' };
  const gitea = h('x-gitea-signature') ?? h('x-gogs-signature');
  if (gitea !== undefined) return sameText(gitea.trim().toLowerCase(), hmac('sha256', token, body)) ? { ok: true, scheme: 'gitea' } : { ok: false, reason: 'X-Gitea-Signature does not match' };
  const gitlab = h('x-gitlab-token');
  if (gitlab !== undefined) return sameText(gitlab, token) ? { ok: true, scheme: 'gitlab' } : { ok: false, reason: 'X-Gitlab-Token does not match' };
  const generic = h('x-signature');
  if (generic !== undefined) {
    const m = /^(sha256|sha512)=([0-9a-f]+)$/i.exec(generic.trim());
    if (!m) return { ok: false, reason: 'X-Signature must be sha256=HEX or sha512=HEX' };
    return sameText(m[2]!.toLowerCase(), hmac(m[1]!.toLowerCase() as 'sha256' | 'sha512', token, body)) ? { ok: true, scheme: 'generic' } : { ok: false, reason: 'X-Signature does not match' };
  }
  return { ok: false, reason: 'the request carries no signature (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or X-Signature)' };
}

/** A repository URL reduced to host/path (no scheme, user, .git or trailing slash): the same repository by any transport. */
export function normalizeRepoUrl(url: string): string {
  let u = url.trim();
  const scp = /^[^@/:]+@([^:/]+):(.+)$/.exec(u);
  if (scp && !u.includes('://')) u = `${scp[1]}/${scp[2]}`;
  else u = u.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^@/]*@/, '');
  const slash = u.indexOf('/');
  const host = slash < 0 ? u : u.slice(0, slash);
  const path = slash < 0 ? '' : u.slice(slash);
  return `${host.toLowerCase().replace(/:(22|443|80)$/, '')}${path.replace(/\/+$/, '').replace(/\.git$/, '')}`;
}

const RANGE_LIKE = /[\^~<>=*|\s]|(^|\.)x($|\.)|^v?\d+(\.\d+)?$/i;

/** Whether a push of `pushed` (refs/heads/X, refs/tags/Y; undefined when the payload names none) concerns a GitSync following `ref`. */
export function refMatches(ref: string | undefined, pushed: string | undefined): boolean {
  if (!pushed) return true;
  if (!ref) return pushed.startsWith('refs/heads/');
  if (ref === pushed || pushed === `refs/heads/${ref}` || pushed === `refs/tags/${ref}`) return true;
  return pushed.startsWith('refs/tags/') && RANGE_LIKE.test(ref);
}

/** The ref a push payload names (GitHub, Gitea, GitLab: "ref"), if any. */
export function pushedRef(body: Buffer, contentType: string | undefined): string | undefined {
  let text = body.toString('utf8');
  if ((contentType ?? '').includes('application/x-www-form-urlencoded')) text = new URLSearchParams(text).get('payload') ?? '';
  try {
    const parsed = JSON.parse(text) as { ref?: unknown };
    return typeof parsed.ref === 'string' && parsed.ref.startsWith('refs/') ? parsed.ref : undefined;
  } catch {
    return undefined;
  }
}

export interface GitWebhookOptions {
  resources: Resources;
  kinds: KindInfo[];
  /** Per webhook id (default: bursts of 10, 1 a second). */
  perId?: RateLimiter;
  /** All webhooks together (default: bursts of 100, 20 a second). */
  overall?: RateLimiter;
}

/** Mounts POST /hooks/git/:id (call before authentication). */
export function mountGitWebhook(app: express.Express, o: GitWebhookOptions): void {
  const gitSyncKind = o.kinds.find((k) => k.group === 'berth.dev' && k.kind === 'GitSync');
  const secretKind = o.kinds.find((k) => k.group === '' && k.kind === 'Secret');
  if (!gitSyncKind || !secretKind) return;
  const perId = o.perId ?? new RateLimiter(10, 1);
  const overall = o.overall ?? new RateLimiter(100, 20);
  const send = (res: Response, code: number, message: string, extra: Record<string, unknown> = {}) => {
    res.status(code).json({ kind: 'Status', apiVersion: 'v1', status: code < 300 ? 'Success' : 'Failure', message, code, ...extra });
  };

  const tokenOf = async (gs: ApiObject): Promise<string | undefined> => {
    const name = (gs as unknown as GitSync).spec?.webhook?.secretRef?.name;
    if (!name) return undefined;
    try {
      const secret = await o.resources.get(secretKind, gs.metadata.namespace ?? '', name);
      const token = (secret as unknown as { data?: Record<string, string> }).data?.token;
      return token ? Buffer.from(token, 'base64').toString('utf8') : undefined;
    } catch {
      return undefined;
    }
  };

  const handle = async (req: Request, res: Response): Promise<void> => {
    const labels = res.locals.labels as { resource: string } | undefined;
    if (labels) labels.resource = 'webhooks';
    const id = String(req.params.id ?? '');
    if (!/^[0-9a-f]{40}$/.test(id)) return send(res, 404, 'no such webhook');
    if (!overall.take('all') || !perId.take(id)) {
      res.setHeader('retry-after', '1');
      return send(res, 429, 'too many webhook requests; try again later');
    }
    const all = await o.resources.list(gitSyncKind, '', {});
    let found: { gs: ApiObject; token: string } | undefined;
    for (const gs of all.items) {
      const token = await tokenOf(gs);
      if (token && gs.metadata.uid && sameText(webhookId(token, gs.metadata.uid), id)) {
        found = { gs, token };
        break;
      }
    }
    if (!found) return send(res, 404, 'no such webhook');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifySignature(req.headers, body, found.token);
    if (!verdict.ok) return send(res, 401, verdict.reason);
    const ns = found.gs.metadata.namespace ?? '';
    const url = normalizeRepoUrl((found.gs as unknown as GitSync).spec.url);
    const ref = pushedRef(body, req.get('content-type'));
    const matched = all.items.filter((g) => {
      const { spec, status } = g as unknown as GitSync;
      // without spec.ref the GitSync follows the default branch, which its status names once fetched
      return g.metadata.namespace === ns && !g.metadata.deletionTimestamp && normalizeRepoUrl(spec.url) === url && refMatches(spec.ref ?? status?.fetchedRef, ref);
    });
    const at = new Date().toISOString();
    const triggered: string[] = [];
    for (const g of matched) {
      try {
        await o.resources.patch(gitSyncKind, ns, g.metadata.name, 'merge', { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: at } } }, { fieldManager: 'berth-webhook', dryRun: false, fieldValidation: 'Strict' }, undefined);
        triggered.push(g.metadata.name);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    send(res, 202, triggered.length ? `fetching now: ${triggered.join(', ')}` : `no GitSync follows ${ref ?? 'that ref'}`, { details: { scheme: verdict.scheme, triggered } });
  };

  app.post(`${WEBHOOK_PREFIX}:id`, express.raw({ type: () => true, limit: MAX_BODY }), (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const code = (err as { status?: number }).status === 413 ? 413 : 500;
      if (code === 500) console.error('apiserver: git webhook:', err);
      send(res, code, code === 413 ? `webhook body larger than ${MAX_BODY} bytes` : 'internal error');
    });
  });
}
