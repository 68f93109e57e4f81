/**
 * Authentication: who a request comes from, as kube-apiserver's authenticators answer it.
 * - the admin token (<data-dir>/auth/admin.token, the admin kubeconfig's): user "admin" in
 *   system:masters;
 * - tokens of the processes composed with the server (controllers, the node agent), made at start
 *   and known only to this process (kept hashed, as every token);
 * - user tokens `ID.SECRET` whose SHA-256 is in the Secret kube-system/berth-token-ID
 *   (src/api/token.ts; `berth token create`), with an optional expiry;
 * - client certificates signed by Berth's CA: CN is the user, each O a group.
 * Every authenticated user is also in system:authenticated. Token comparisons are constant-time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { tokenHash, tokenId, TOKEN_NAMESPACE, TOKEN_SECRET_PREFIX, TOKEN_SECRET_TYPE } from '../../api/token.js';
import type { Store } from '../../store/types.js';
import { isObject } from '../objects.js';

export interface UserInfo {
  name: string;
  groups: string[];
}

export const ADMIN_USER = 'admin';
export const MASTERS_GROUP = 'system:masters';
export const AUTHENTICATED_GROUP = 'system:authenticated';

/** How long a looked-up user token is trusted before the Secret is read again. */
const TOKEN_CACHE_MS = 5_000;
const MAX_CACHED = 10_000;

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function withAuthenticated(u: UserInfo): UserInfo {
  return u.groups.includes(AUTHENTICATED_GROUP) ? u : { name: u.name, groups: [...u.groups, AUTHENTICATED_GROUP] };
}

function decode(data: unknown, key: string): string | undefined {
  if (!isObject(data) || typeof data[key] !== 'string') return undefined;
  return Buffer.from(data[key], 'base64').toString('utf8');
}

export class Authenticator {
  private readonly adminHash: Buffer;
  /** In-process identities by the hex SHA-256 of their token. */
  private readonly processTokens = new Map<string, UserInfo>();
  private readonly cache = new Map<string, { user: UserInfo; until: number }>();

  constructor(
    private readonly store: Store,
    adminToken: string,
  ) {
    this.adminHash = sha256(adminToken);
  }

  /** A token that authenticates as `user` for the life of this process (in-process roles). */
  addProcessToken(token: string, user: UserInfo): void {
    this.processTokens.set(tokenHash(token), withAuthenticated(user));
  }

  /** The user of a request, or undefined when it carries no valid credential. */
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && /^bearer /i.test(header)) return this.byToken(header.slice(7).trim());
    return this.byCertificate(req);
  }

  private async byToken(token: string): Promise<UserInfo | undefined> {
    if (token === '' || token.length > 4096) return undefined;
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.adminHash)) return { name: ADMIN_USER, groups: [MASTERS_GROUP, AUTHENTICATED_GROUP] };
    const hex = hash.toString('hex');
    const proc = this.processTokens.get(hex);
    if (proc) return proc;
    const cached = this.cache.get(hex);
    if (cached && cached.until > Date.now()) return cached.user;
    const id = tokenId(token);
    if (!id) return undefined;
    const secret = await this.store.get({ resource: 'core/secrets', namespace: TOKEN_NAMESPACE, name: `${TOKEN_SECRET_PREFIX}${id}` });
    if (!secret || secret.type !== TOKEN_SECRET_TYPE || secret.metadata.deletionTimestamp) return undefined;
    const want = decode(secret.data, 'token-sha256');
    if (!want || !/^[0-9a-f]{64}$/.test(want) || !timingSafeEqual(Buffer.from(want, 'hex'), hash)) return undefined;
    const expiration = decode(secret.data, 'expiration');
    if (expiration !== undefined && !(Date.parse(expiration) > Date.now())) return undefined;
    const name = decode(secret.data, 'user');
    if (!name) return undefined;
    const groups = (decode(secret.data, 'groups') ?? '').split(',').filter((g) => g !== '');
    const user = withAuthenticated({ name, groups });
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    const until = Math.min(Date.now() + TOKEN_CACHE_MS, expiration ? Date.parse(expiration) : Infinity);
    this.cache.set(hex, { user, until });
    return user;
  }

  /** A client certificate the TLS layer verified against Berth's CA: CN the user, O the groups. */
  private byCertificate(req: IncomingMessage): UserInfo | undefined {
    const socket = req.socket;
    if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
    const subject = socket.getPeerCertificate()?.subject as unknown as Record<string, string | string[]> | undefined;
    const cn = subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (!name) return undefined;
    const o = subject?.O;
    const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
    return withAuthenticated({ name, groups });
  }
}
