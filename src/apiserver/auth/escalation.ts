/**
 * Escalation prevention for RBAC objects, as Kubernetes' RBAC REST storage does it: nobody grants
 * what they do not hold. A Role or ClusterRole may be written only with rules the writer holds
 * (in that namespace; cluster-wide for a ClusterRole) unless the writer may `escalate` on it; a
 * binding only to a role whose rules the writer holds, unless the writer may `bind` that role.
 * Writes the server makes itself (no user: the bootstrap policy) and system:masters pass.
 */
import type { ApiObject } from '../../api/meta.js';
import type { PolicyRule, RoleRef } from '../../api/rbac.js';
import { RBAC_GROUP } from '../../api/rbac.js';
import { ApiError } from '../status.js';
import type { AdmissionPlugin } from '../admission-plugins.js';
import { MASTERS_GROUP, type UserInfo } from './authn.js';
import type { RbacAuthorizer } from './rbac.js';
import { uncovered } from './rules.js';

function describeRule(r: PolicyRule): string {
  if (r.nonResourceURLs) return `{NonResourceURLs:${JSON.stringify(r.nonResourceURLs)}, Verbs:${JSON.stringify(r.verbs)}}`;
  return `{APIGroups:${JSON.stringify(r.apiGroups)}, Resources:${JSON.stringify(r.resources)}${r.resourceNames ? `, ResourceNames:${JSON.stringify(r.resourceNames)}` : ''}, Verbs:${JSON.stringify(r.verbs)}}`;
}

function refused(plural: string, name: string, user: UserInfo, what: string): ApiError {
  const msg = `${plural}.${RBAC_GROUP} ${JSON.stringify(name)} is forbidden: user ${JSON.stringify(user.name)} (groups=${JSON.stringify(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${what}`;
  return new ApiError(403, 'Forbidden', msg, { name, group: RBAC_GROUP, kind: plural });
}

export function rbacEscalationCheck(rbac: RbacAuthorizer): AdmissionPlugin {
  const may = async (user: UserInfo, verb: string, resource: string, namespace: string, name: string): Promise<boolean> =>
    (await rbac.authorize({ user, verb, resourceRequest: true, path: '', apiGroup: RBAC_GROUP, apiVersion: 'v1', resource, subresource: '', namespace, name })).allowed;

  return async ({ kind, object, user }) => {
    if (kind.group !== RBAC_GROUP || !user || user.groups.includes(MASTERS_GROUP)) return;
    const ns = kind.namespaced ? (object.metadata.namespace ?? '') : '';
    const name = object.metadata.name;
    if (kind.plural === 'roles' || kind.plural === 'clusterroles') {
      if (await may(user, 'escalate', kind.plural, ns, name)) return;
      const missing = uncovered(await rbac.rulesFor(user, ns), ((object as ApiObject & { rules?: PolicyRule[] }).rules ?? []) as PolicyRule[]);
      if (missing.length > 0) throw refused(kind.plural, name, user, missing.map(describeRule).join('\n'));
      return;
    }
    const ref = (object as ApiObject & { roleRef?: RoleRef }).roleRef;
    if (!ref) return;
    const refPlural = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
    if (await may(user, 'bind', refPlural, ref.kind === 'ClusterRole' ? ns : ns, ref.name)) return;
    const rules = (await rbac.referencedRules(ref, ns)) ?? [];
    const missing = uncovered(await rbac.rulesFor(user, ns), rules);
    if (missing.length > 0) throw refused(kind.plural, name, user, missing.map(describeRule).join('\n'));
  };
}
