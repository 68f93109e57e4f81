/**
 * RBAC rule matching, as Kubernetes' plugin/pkg/auth/authorizer/rbac does it: a rule allows a
 * request when its verbs, API groups, resources (resource/subresource, `*`, `*`/subresource) and
 * resource names match, or, for a non-resource path, its verbs and URLs (`*`, exact, or a prefix
 * ending in `*`). `covers` answers whether one set of rules grants everything another does (the
 * escalation check: nobody grants what they do not hold).
 */
import type { PolicyRule, Subject } from '../../api/rbac.js';
import type { RequestAttributes } from './attributes.js';
import type { UserInfo } from './authn.js';

const has = (list: readonly string[] | undefined, v: string): boolean => (list ?? []).some((x) => x === '*' || x === v);

function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

function nameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

function urlMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

export function ruleAllows(a: RequestAttributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return urlMatches(rule, a.path);
  return has(rule.apiGroups, a.apiGroup) && resourceMatches(rule, a.resource, a.subresource) && nameMatches(rule, a.name);
}

export function rulesAllow(a: RequestAttributes, rules: readonly PolicyRule[]): boolean {
  return rules.some((r) => ruleAllows(a, r));
}

/** Whether a binding's subject is this user (by name, one of its groups, or its service account). */
export function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

/** One verb on one group/resource/name, or on one URL: the atoms rules are broken into. */
function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs) {
    for (const url of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [url] });
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0) out.push({ verbs: [verb], apiGroups: [group], resources: [resource] });
        for (const n of names) out.push({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [n] });
      }
    }
  }
  return out;
}

/** Whether `owner` grants the atom `want`: a `*` asked for is covered only by a `*` held. */
function atomCovered(owner: PolicyRule, want: PolicyRule): boolean {
  if (!has(owner.verbs, want.verbs[0]!)) return false;
  if (want.nonResourceURLs) {
    const url = want.nonResourceURLs[0]!;
    return (owner.nonResourceURLs ?? []).some((u) => u === '*' || u === url || (u.endsWith('*') && url.startsWith(u.slice(0, -1))));
  }
  if (!has(owner.apiGroups, want.apiGroups![0]!)) return false;
  const resource = want.resources![0]!;
  const [res, sub = ''] = resource.split('/', 2) as [string, string?];
  const resourceOk = (owner.resources ?? []).some((r) => r === '*' || r === resource || (sub !== '' && res !== '*' && r === `*/${sub}`));
  if (!resourceOk) return false;
  const ownerNames = owner.resourceNames ?? [];
  if (ownerNames.length === 0) return true;
  const wantNames = want.resourceNames ?? [];
  return wantNames.length === 1 && ownerNames.includes(wantNames[0]!);
}

/** The rules of `servant` that `owner` does not cover (empty: owner may grant all of servant). */
export function uncovered(owner: readonly PolicyRule[], servant: readonly PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of servant) for (const atom of breakdown(rule)) if (!owner.some((o) => atomCovered(o, atom))) missing.push(atom);
  return missing;
}
