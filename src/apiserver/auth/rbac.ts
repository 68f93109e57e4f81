/**
 * The RBAC authorizer: allows a request when a ClusterRoleBinding, or a RoleBinding of the
 * request's namespace, binds a subject matching the user to a role with a rule that allows it
 * (rules.ts). Members of system:masters are allowed everything, as in Kubernetes, so the admin
 * cannot lock itself out by deleting a binding. Roles and bindings are kept in memory from a watch
 * of the store; before deciding, the authorizer waits for the events already written to be applied,
 * so a binding created by one request holds for the next.
 */
import type { ApiObject } from '../../api/meta.js';
import type { ClusterRoleBinding, PolicyRule, Role, RoleBinding } from '../../api/rbac.js';
import { TooOldError, type Store, type Watch } from '../../store/types.js';
import { errorText, logger } from '../../util/log.js';
import type { Attributes, RequestAttributes } from './attributes.js';
import { MASTERS_GROUP, type UserInfo } from './authn.js';
import { rulesAllow, subjectMatches } from './rules.js';

const RESOURCES = {
  roles: 'rbac.authorization.k8s.io/roles',
  clusterroles: 'rbac.authorization.k8s.io/clusterroles',
  rolebindings: 'rbac.authorization.k8s.io/rolebindings',
  clusterrolebindings: 'rbac.authorization.k8s.io/clusterrolebindings',
} as const;
type Cached = keyof typeof RESOURCES;

export interface Decision {
  allowed: boolean;
  /** Why, when allowed: which binding and role; empty when denied (Kubernetes says nothing more). */
  reason: string;
}

const keyOf = (o: ApiObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class RbacAuthorizer {
  private readonly objects: Record<Cached, Map<string, ApiObject>> = {
    roles: new Map(),
    clusterroles: new Map(),
    rolebindings: new Map(),
    clusterrolebindings: new Map(),
  };
  private readonly watches = new Map<Cached, Watch>();
  private stopped = false;
  private readonly log = logger('apiserver');

  constructor(private readonly store: Store) {}

  async start(): Promise<void> {
    await Promise.all((Object.keys(RESOURCES) as Cached[]).map((c) => this.follow(c)));
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }

  /** Lists one resource into the cache and follows its changes; a failed watch lists again. */
  private async follow(c: Cached): Promise<void> {
    if (this.stopped) return;
    const list = await this.store.list(RESOURCES[c]);
    const fresh = new Map(list.items.map((o) => [keyOf(o), o]));
    this.objects[c] = fresh;
    const restart = (err: Error): void => {
      if (this.stopped) return;
      if (!(err instanceof TooOldError)) this.log.warn({ resource: RESOURCES[c], err: errorText(err) }, 'RBAC watch ended; listing again');
      this.watches.get(c)?.stop();
      this.watches.delete(c);
      setTimeout(() => void this.follow(c).catch((e: unknown) => restart(e as Error)), 100).unref();
    };
    try {
      const watch = await this.store.watch(
        RESOURCES[c],
        { fromRevision: Number(list.resourceVersion) },
        (ev) => {
          if (ev.type === 'DELETED') this.objects[c].delete(keyOf(ev.object));
          else this.objects[c].set(keyOf(ev.object), ev.object);
        },
        restart,
      );
      if (this.stopped) watch.stop();
      else this.watches.set(c, watch);
    } catch (err) {
      restart(err as Error);
    }
  }

  /** Waits until every write made so far is in the cache. */
  private async current(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.drained()));
  }

  private roleRules(ref: { kind: string; name: string }, namespace: string): PolicyRule[] {
    const role = ref.kind === 'ClusterRole' ? this.objects.clusterroles.get(`/${ref.name}`) : this.objects.roles.get(`${namespace}/${ref.name}`);
    return ((role as unknown as Role | undefined)?.rules ?? []) as PolicyRule[];
  }

  /**
   * The rules that apply to `user` in `namespace` ('' : cluster-wide only), each with the binding
   * that grants it; `visit` returns true to stop early.
   */
  private visit(user: UserInfo, namespace: string, visit: (rules: PolicyRule[], source: string) => boolean): void {
    for (const b of this.objects.clusterrolebindings.values()) {
      const crb = b as unknown as ClusterRoleBinding & ApiObject;
      if (!(crb.subjects ?? []).some((s) => subjectMatches(s, user, ''))) continue;
      if (visit(this.roleRules(crb.roleRef, ''), `ClusterRoleBinding "${crb.metadata.name}" of ClusterRole "${crb.roleRef.name}"`)) return;
    }
    if (!namespace) return;
    for (const b of this.objects.rolebindings.values()) {
      const rb = b as unknown as RoleBinding & ApiObject;
      if (rb.metadata.namespace !== namespace) continue;
      if (!(rb.subjects ?? []).some((s) => subjectMatches(s, user, namespace))) continue;
      if (visit(this.roleRules(rb.roleRef, namespace), `RoleBinding "${namespace}/${rb.metadata.name}" of ${rb.roleRef.kind} "${rb.roleRef.name}"`)) return;
    }
  }

  async authorize(a: Attributes): Promise<Decision> {
    if (a.user.groups.includes(MASTERS_GROUP)) return { allowed: true, reason: `member of ${MASTERS_GROUP}` };
    await this.current();
    let reason = '';
    this.visit(a.user, a.resourceRequest ? a.namespace : '', (rules, source) => {
      if (!rulesAllow(a, rules)) return false;
      reason = `allowed by ${source}`;
      return true;
    });
    return { allowed: reason !== '', reason };
  }

  /** Everything `user` holds in `namespace` (cluster-wide only when ''), for rules reviews and escalation checks. */
  async rulesFor(user: UserInfo, namespace: string): Promise<PolicyRule[]> {
    if (user.groups.includes(MASTERS_GROUP)) return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }];
    await this.current();
    const out: PolicyRule[] = [];
    this.visit(user, namespace, (rules) => {
      out.push(...rules);
      return false;
    });
    return out;
  }

  /** The rules of a role a binding refers to, as the cache has them (undefined: no such role). */
  async referencedRules(ref: { kind: string; name: string }, namespace: string): Promise<PolicyRule[] | undefined> {
    await this.current();
    const role = ref.kind === 'ClusterRole' ? this.objects.clusterroles.get(`/${ref.name}`) : this.objects.roles.get(`${namespace}/${ref.name}`);
    return role ? (((role as unknown as Role).rules ?? []) as PolicyRule[]) : undefined;
  }

  /** For SubjectAccessReview: the decision for attributes given in a request body. */
  decide(user: UserInfo, attrs: RequestAttributes): Promise<Decision> {
    return this.authorize({ ...attrs, user });
  }
}
