/**
 * Bearer tokens of users and service-account-like identities, as Berth keeps them: the token is
 * `ID.SECRET` (ID 8 lowercase characters, SECRET 32 random bytes, base64url) and the server keeps
 * only its SHA-256, in a Secret `berth-token-ID` of type berth.dev/token in kube-system (as
 * Kubernetes keeps bootstrap tokens there). Whoever may write Secrets in kube-system may therefore
 * mint identities: that is cluster-admin's alone. The API server's authenticator and the
 * `berth token` verb share this module.
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_SECRET_TYPE = 'berth.dev/token';
export const TOKEN_NAMESPACE = 'kube-system';
export const TOKEN_SECRET_PREFIX = 'berth-token-';
const TOKEN = /^([a-z0-9]{8})\.([A-Za-z0-9_-]{43})$/;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface NewToken {
  id: string;
  token: string;
}

export function newToken(): NewToken {
  const idBytes = randomBytes(8);
  const id = [...idBytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
  return { id, token: `${id}.${randomBytes(32).toString('base64url')}` };
}

/** The ID of a token of this form, or undefined. */
export function tokenId(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface TokenIdentity {
  user: string;
  groups: string[];
  /** RFC 3339; absent: never expires. */
  expiration?: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The Secret that lets `token` authenticate as `who`. */
export function tokenSecret(t: NewToken, who: TokenIdentity): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${TOKEN_SECRET_PREFIX}${t.id}`, namespace: TOKEN_NAMESPACE, labels: { 'berth.dev/token-user': labelSafe(who.user) } },
    type: TOKEN_SECRET_TYPE,
    data: {
      'token-id': b64(t.id),
      'token-sha256': b64(tokenHash(t.token)),
      user: b64(who.user),
      groups: b64(who.groups.join(',')),
      ...(who.expiration ? { expiration: b64(who.expiration) } : {}),
    },
  };
}

/** A label value naming the user (for `kubectl get secrets -l berth.dev/token-user=alice`). */
function labelSafe(user: string): string {
  const v = user.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v;
}

/** User and group names Berth issues identities for: no spaces, commas or control characters. */
export const IDENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9:._@-]{0,252}$/;
