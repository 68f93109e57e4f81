/**
 * rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and ClusterRoleBinding, as
 * Kubernetes has them: who (subjects: users, groups, service accounts) may do what (rules: verbs on
 * resources of API groups, or on non-resource URLs) where (a namespace for Role and RoleBinding,
 * the cluster for the others). The API server's authorizer reads them (src/apiserver/auth);
 * `kubectl create role`, `kubectl create rolebinding` and `kubectl auth can-i` work as with
 * Kubernetes. Aggregation rules are not served.
 */
import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_API_VERSION = `${RBAC_GROUP}/v1`;

const nonEmpty = z.string().min(1);

export const policyRule = z
  .strictObject({
    verbs: z.array(nonEmpty).min(1).describe('Verbs the rule allows: get, list, watch, create, update, patch, delete, deletecollection, or * for all.'),
    apiGroups: z.array(z.string()).optional().describe('API groups of the resources ("" is the core group, * all groups).'),
    resources: z.array(nonEmpty).optional().describe('Resources the rule applies to, resource/subresource for a subresource, * for all.'),
    resourceNames: z.array(nonEmpty).optional().describe('Names of the objects the rule is limited to; all objects when empty.'),
    nonResourceURLs: z.array(nonEmpty).optional().describe('URL paths that are not resources (/healthz, /metrics, /api/*); only in ClusterRoles.'),
  })
  .superRefine((r, ctx) => {
    const resourceRule = (r.resources?.length ?? 0) > 0;
    const urlRule = (r.nonResourceURLs?.length ?? 0) > 0;
    if (resourceRule && urlRule) ctx.addIssue({ code: 'custom', path: ['nonResourceURLs'], message: 'rules cannot apply to both regular resources and non-resource URLs' });
    if (!resourceRule && !urlRule) ctx.addIssue({ code: 'custom', path: ['resources'], message: 'Required value: resource rules must supply at least one resource, or nonResourceURLs' });
    if (resourceRule && r.apiGroups === undefined) ctx.addIssue({ code: 'custom', path: ['apiGroups'], message: 'Required value: resource rules must supply at least one api group' });
  });
export type PolicyRule = z.infer<typeof policyRule>;

export const subject = z.strictObject({
  kind: z.enum(['User', 'Group', 'ServiceAccount']).describe('User, Group or ServiceAccount.'),
  apiGroup: z.string().optional().describe('rbac.authorization.k8s.io for User and Group, "" for ServiceAccount.'),
  name: nonEmpty.describe('Name of the user, group or service account.'),
  namespace: z.string().optional().describe('Namespace of a ServiceAccount subject.'),
});
export type Subject = z.infer<typeof subject>;

export const roleRef = z.strictObject({
  apiGroup: z.literal(RBAC_GROUP).describe('rbac.authorization.k8s.io.'),
  kind: z.enum(['Role', 'ClusterRole']).describe('Role (same namespace) or ClusterRole.'),
  name: nonEmpty.describe('Name of the role.'),
});
export type RoleRef = z.infer<typeof roleRef>;

const rules = z.array(policyRule).optional().describe('What the role allows.');
const subjects = z.array(subject).optional().describe('Who the binding grants the role to.');

export const role = z.strictObject({
  apiVersion: z.literal(RBAC_API_VERSION),
  kind: z.literal('Role'),
  metadata: objectMeta,
  rules,
});
export const clusterRole = z.strictObject({
  apiVersion: z.literal(RBAC_API_VERSION),
  kind: z.literal('ClusterRole'),
  metadata: objectMeta,
  rules,
  aggregationRule: z.unknown().optional().describe('Not served by Berth: roles are not aggregated.'),
});
export const roleBinding = z.strictObject({
  apiVersion: z.literal(RBAC_API_VERSION),
  kind: z.literal('RoleBinding'),
  metadata: objectMeta,
  subjects,
  roleRef: roleRef.describe('The Role (of the same namespace) or ClusterRole granted; cannot be changed.'),
});
export const clusterRoleBinding = z.strictObject({
  apiVersion: z.literal(RBAC_API_VERSION),
  kind: z.literal('ClusterRoleBinding'),
  metadata: objectMeta,
  subjects,
  roleRef: roleRef.extend({ kind: z.literal('ClusterRole').describe('ClusterRole.') }).describe('The ClusterRole granted; cannot be changed.'),
});
export type Role = z.infer<typeof role>;
export type ClusterRole = z.infer<typeof clusterRole>;
export type RoleBinding = z.infer<typeof roleBinding>;
export type ClusterRoleBinding = z.infer<typeof clusterRoleBinding>;

function rbacKind(kind: string, plural: string, namespaced: boolean, schema: z.ZodType, description: string, columns: KindInfo['printerColumns']): KindInfo {
  return {
    group: RBAC_GROUP,
    version: 'v1',
    kind,
    listKind: `${kind}List`,
    plural,
    singular: kind.toLowerCase(),
    shortNames: [],
    categories: [],
    namespaced,
    hasStatus: false,
    schema,
    printerColumns: [...columns, ageColumn],
    applyDefaults: defaulterFor(schema),
    selectableFields: [],
    listMapKeys: listMapKeysFor(schema),
    description,
  };
}

const roleColumn = { name: 'Role', type: 'string', jsonPath: '.roleRef.name', description: 'The role granted.' } as const;

export const roleKind = rbacKind('Role', 'roles', true, role, 'Role is a set of rules (verbs on resources) that a RoleBinding grants in its namespace.', []);
export const clusterRoleKind = rbacKind('ClusterRole', 'clusterroles', false, clusterRole, 'ClusterRole is a set of rules granted in one namespace by a RoleBinding or in all by a ClusterRoleBinding.', []);
export const roleBindingKind = rbacKind('RoleBinding', 'rolebindings', true, roleBinding, 'RoleBinding grants the rules of a Role or ClusterRole to users, groups or service accounts within its namespace.', [roleColumn]);
export const clusterRoleBindingKind = rbacKind('ClusterRoleBinding', 'clusterrolebindings', false, clusterRoleBinding, 'ClusterRoleBinding grants the rules of a ClusterRole to users, groups or service accounts in every namespace.', [roleColumn]);

export const rbacKinds: KindInfo[] = [roleKind, clusterRoleKind, roleBindingKind, clusterRoleBindingKind];
