import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { atomicWriteFile, isNodeError } from '../runtime/index.js';

export type Action = 'pull' | 'push' | 'delete' | '*';

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  access: Access[];
}

let dummyHash: string | undefined;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Users file: htpasswd lines `name:bcrypt-hash` (the format distribution's htpasswd auth reads). */
export class UserDb {
  constructor(readonly path: string) {}

  async load(): Promise<Map<string, string>> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if (!isNodeError(e, 'ENOENT')) throw e;
    }
    const users = new Map<string, string>();
    for (const line of text.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) users.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    return users;
  }

  async hasUsers(): Promise<boolean> {
    return (await this.load()).size > 0;
  }

  async setPassword(user: string, password: string, rounds = 10): Promise<void> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user)) throw new Error(`user: "${user}" must be 1-64 of [A-Za-z0-9._@-]`);
    if (password.length === 0) throw new Error('password: must not be empty');
    const users = await this.load();
    users.set(user, await bcrypt.hash(password, rounds));
    await atomicWriteFile(this.path, [...users].map(([u, h]) => `${u}:${h}`).join('\n') + '\n', 0o600);
  }

  async removeUser(user: string): Promise<boolean> {
    const users = await this.load();
    if (!users.delete(user)) return false;
    await atomicWriteFile(this.path, [...users].map(([u, h]) => `${u}:${h}`).join('\n') + (users.size ? '\n' : ''), 0o600);
    return true;
  }

  async verify(user: string, password: string): Promise<boolean> {
    const hash = (await this.load()).get(user);
    if (!hash) {
      // same cost as a real check, so timing does not tell which users exist
      dummyHash ??= bcrypt.hashSync('berth-no-such-user', 10);
      await bcrypt.compare(password, dummyHash);
      return false;
    }
    return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
  }
}

/** HMAC-SHA256 signed JWTs (HS256) carrying the Docker token's `access` claim. */
export class TokenSigner {
  private constructor(
    private readonly key: Buffer,
    readonly issuer: string,
  ) {}

  /** Loads <dir>/token.key, creating a random one on first use. */
  static async open(dir: string, issuer = 'berth-registry'): Promise<TokenSigner> {
    const path = join(dir, 'token.key');
    let key: Buffer;
    try {
      key = Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
    } catch (e) {
      if (!isNodeError(e, 'ENOENT')) throw e;
      key = randomBytes(32);
      await atomicWriteFile(path, key.toString('hex'), 0o600);
    }
    return new TokenSigner(key, issuer);
  }

  sign(sub: string, aud: string, access: Access[], ttlSeconds: number): { token: string; claims: TokenClaims } {
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = { iss: this.issuer, sub, aud, iat: now, exp: now + ttlSeconds, jti: randomBytes(12).toString('hex'), access };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, claims };
  }

  /** The claims of a valid, unexpired token for this audience, else undefined. */
  verify(token: string, aud: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head, body, sig] = parts as [string, string, string];
    const want = createHmac('sha256', this.key).update(`${head}.${body}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
      if (claims.aud !== aud || typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000 || typeof claims.sub !== 'string') return undefined;
      return Array.isArray(claims.access) ? claims : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Parses `repository:name:pull,push` scopes (several may be space-separated in one parameter). */
export function parseScopes(params: string[]): Access[] {
  const out: Access[] = [];
  for (const p of params) {
    for (const s of p.split(' ')) {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      out.push({ type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) });
    }
  }
  return out;
}

export const scopeString = (a: Access): string => `${a.type}:${a.name}:${a.actions.join(',')}`;

/** Whether claims allow `action` on `type:name` ('*' grants everything). */
export function allows(claims: TokenClaims, type: string, name: string, action: string): boolean {
  return claims.access.some((a) => a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes('*')));
}
