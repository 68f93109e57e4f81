/**
 * Who may do what on the registry, behind one interface for its two modes:
 * - users and ACL (`berth registry`): htpasswd users, docker_auth-style rules (acl.ts);
 * - Berth identities (the registry of `berth server`): a Berth token, as a bearer token or as the
 *   password of basic auth, is checked by the API server, and each action is a verb on the
 *   resource `repositories` of group registry.berth.dev in the namespace the repository's first
 *   component names (`team/app` is in `team`, `app` in `default`), as RBAC grants it: pull is
 *   `get`, push `create`, overwriting a tag `update`, delete `delete`.
 */
import { createHash } from 'node:crypto';
import { ANONYMOUS, type Acl } from './acl.js';
import type { UserDb } from './auth.js';

/** The registry's actions: Docker's pull, push and delete, and overwrite (a push that moves an existing tag). */
export type Action = 'pull' | 'push' | 'delete' | 'overwrite';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete', 'overwrite'];

/** Who a request comes from; `secret` is the Berth token it carried (Berth identities mode). */
export interface Principal {
  account: string;
  secret?: string;
}

export const ANONYMOUS_PRINCIPAL: Principal = { account: ANONYMOUS };

export interface AccessPolicy {
  /** The principal of basic credentials, undefined when they are wrong. */
  login(user: string, password: string): Promise<Principal | undefined>;
  /** The principal of a bearer token that is not one the registry signed (undefined: nobody). */
  bearer(token: string): Promise<Principal | undefined>;
  actions(p: Principal, repository: string): Promise<ReadonlySet<Action>>;
  maySeeCatalog(p: Principal): Promise<boolean>;
  /**
   * Whether a token the registry signed is checked again against the policy with its subject (the
   * ACL: rules may be stricter after a restart); without it the token's grants stand until it expires.
   */
  readonly rechecksTokens: boolean;
}

/** htpasswd users and ACL rules; overwriting a tag is part of push. */
export class AclPolicy implements AccessPolicy {
  readonly rechecksTokens = true;
  constructor(
    private readonly users: UserDb,
    private readonly acl: Acl,
    private readonly readOnly = false,
  ) {}

  async login(user: string, password: string): Promise<Principal | undefined> {
    return (await this.users.verify(user, password)) ? { account: user } : undefined;
  }

  bearer(): Promise<Principal | undefined> {
    return Promise.resolve(undefined);
  }

  actions(p: Principal, repository: string): Promise<ReadonlySet<Action>> {
    const a = new Set<Action>(this.acl.actions(p.account, repository));
    if (a.has('push')) a.add('overwrite');
    return Promise.resolve(this.readOnly ? new Set([...a].filter((x) => x === 'pull')) : a);
  }

  maySeeCatalog(p: Principal): Promise<boolean> {
    return Promise.resolve(this.acl.maySeeCatalog(p.account));
  }
}

/** The verbs RBAC knows; `repositories` in registry.berth.dev. */
export type RepositoryVerb = 'get' | 'list' | 'create' | 'update' | 'delete';
export const REPOSITORY_GROUP = 'registry.berth.dev';
export const REPOSITORY_RESOURCE = 'repositories';

/** The API server's answer for the holder of a token (composed in src/cmd: the registry does not reach the store). */
export interface ApiAccess {
  /** true or false as RBAC decides; undefined when the token authenticates no one. */
  can(token: string, verb: RepositoryVerb, namespace: string, repository: string): Promise<boolean | undefined>;
}

/** The namespace of a repository: its first component (`team/app`: team), `default` for a one-component name. */
export function repositoryNamespace(repository: string): string {
  const i = repository.indexOf('/');
  return i < 0 ? 'default' : repository.slice(0, i);
}

const VERB_OF: Record<Action, RepositoryVerb> = { pull: 'get', push: 'create', overwrite: 'update', delete: 'delete' };
/** Decisions are kept this long (a layer push asks several times a second). */
const CACHE_MS = 5_000;
const MAX_CACHED = 10_000;

export class ApiPolicy implements AccessPolicy {
  readonly rechecksTokens = false;
  private readonly cache = new Map<string, { value: boolean | undefined; until: number }>();

  constructor(
    private readonly api: ApiAccess,
    private readonly anonymousPull = false,
    private readonly readOnly = false,
  ) {}

  private async can(token: string, verb: RepositoryVerb, namespace: string, repository: string): Promise<boolean | undefined> {
    // the repository too: a role may name repositories (resourceNames)
    const key = `${createHash('sha256').update(token).digest('hex')}|${verb}|${namespace}|${repository}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await this.api.can(token, verb, namespace, repository);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, { value, until: Date.now() + CACHE_MS });
    return value;
  }

  private async authenticated(token: string, account: string): Promise<Principal | undefined> {
    if (token === '' || token.length > 4096) return undefined;
    // any decision means the API server knows the token; undefined means it does not
    return (await this.can(token, 'get', 'default', '')) === undefined ? undefined : { account, secret: token };
  }

  login(user: string, password: string): Promise<Principal | undefined> {
    return this.authenticated(password, user || 'token');
  }

  bearer(token: string): Promise<Principal | undefined> {
    return this.authenticated(token, 'token');
  }

  async actions(p: Principal, repository: string): Promise<ReadonlySet<Action>> {
    const out = new Set<Action>();
    if (p.secret === undefined) {
      if (this.anonymousPull) out.add('pull');
      return out;
    }
    const ns = repositoryNamespace(repository);
    const wanted = this.readOnly ? (['pull'] as Action[]) : ACTIONS;
    const answers = await Promise.all(wanted.map((a) => this.can(p.secret!, VERB_OF[a], ns, repository)));
    wanted.forEach((a, i) => answers[i] && out.add(a));
    return out;
  }

  maySeeCatalog(p: Principal): Promise<boolean> {
    return Promise.resolve(p.secret !== undefined || this.anonymousPull);
  }
}
