/**
 * Who may do what on which repository, as docker_auth's ACLs: an ordered list of rules, each
 * matching an account and a repository name and granting actions; the first rule that matches
 * decides (no match: nothing is allowed).
 */

export type RepoAction = 'pull' | 'push' | 'delete';
export const REPO_ACTIONS: readonly RepoAction[] = ['pull', 'push', 'delete'];

/** The account of requests and tokens without credentials. */
export const ANONYMOUS = '';

export interface AclRule {
  match: {
    /** Omitted: any account, anonymous included. "": anonymous only. Else a glob or /regex/. */
    account?: string;
    /** Omitted: every repository. Else a glob or /regex/; `${account}` is the requesting account. */
    name?: string;
  };
  /** What the rule grants; `*` is every action, [] denies. */
  actions: Array<RepoAction | '*'>;
  comment?: string;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * A pattern as an anchored RegExp: `/re/` is a regular expression that must match the whole
 * string; anything else is a glob where `*` is any run of characters (`/` included, so
 * `team-a/*` covers `team-a/x/y`) and `?` one character.
 */
export function compilePattern(pattern: string): RegExp {
  if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) return new RegExp(`^(?:${pattern.slice(1, -1)})$`);
  const body = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escapeRegex(c))).join('');
  return new RegExp(`^${body}$`, 's');
}

interface CompiledRule {
  account?: RegExp;
  /** Compiled per account when the pattern uses ${account}. */
  name?: (account: string) => RegExp;
  actions: ReadonlySet<RepoAction>;
}

function compileName(pattern: string): (account: string) => RegExp {
  if (!pattern.includes('${account}')) {
    const re = compilePattern(pattern);
    return () => re;
  }
  const isRegex = pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/');
  // account names are [A-Za-z0-9._@-]: only `.` needs escaping, and only in a regex
  return (account) => compilePattern(pattern.replaceAll('${account}', isRegex ? escapeRegex(account) : account));
}

export class Acl {
  private readonly rules: CompiledRule[];

  constructor(readonly source: readonly AclRule[]) {
    this.rules = source.map((r) => ({
      account: r.match.account === undefined ? undefined : r.match.account === ANONYMOUS ? /^$/ : compilePattern(r.match.account),
      name: r.match.name === undefined ? undefined : compileName(r.match.name),
      actions: new Set(r.actions.includes('*') ? REPO_ACTIONS : (r.actions as RepoAction[])),
    }));
  }

  /** Without a rules file: every logged-in user may do everything, anonymous users pull when allowed to. */
  static defaults(anonymousPull: boolean): Acl {
    return new Acl([...(anonymousPull ? [{ match: { account: ANONYMOUS }, actions: ['pull' as const] }] : []), { match: { account: '/.+/' }, actions: ['*'] }]);
  }

  /** The same rules followed by one granting anonymous pulls of everything (what --anonymous-pull adds to a rules file). */
  withAnonymousPull(): Acl {
    return new Acl([...this.source, { match: { account: ANONYMOUS }, actions: ['pull'] }]);
  }

  /** The actions `account` has on `repository`: those of the first matching rule. */
  actions(account: string, repository: string): ReadonlySet<RepoAction> {
    for (const r of this.rules) {
      if (r.account && !r.account.test(account)) continue;
      if (r.name && !r.name(account).test(repository)) continue;
      return r.actions;
    }
    return new Set();
  }

  allows(account: string, repository: string, action: RepoAction): boolean {
    return this.actions(account, repository).has(action);
  }

  /** Whether some rule could let `account` pull something: such accounts may list the catalog (filtered to what they can pull). */
  maySeeCatalog(account: string): boolean {
    return this.rules.some((r) => (!r.account || r.account.test(account)) && r.actions.has('pull'));
  }
}
