/**
 * The bootstrap policy, as kube-apiserver's: the user-facing ClusterRoles cluster-admin, admin,
 * edit and view (admin, edit and view grant per namespace through a RoleBinding, or everywhere
 * through a ClusterRoleBinding), what every authenticated user may do (discovery, asking what it
 * may do), and the roles of Berth's own processes: system:berth-controller (the controllers) and
 * system:node (every agent, group system:nodes). They are written at every start; a role whose
 * annotation rbac.authorization.kubernetes.io/autoupdate is "false" is left as its owner made it.
 */
import type { KindInfo } from '../../api/kind.js';
import type { ApiObject } from '../../api/meta.js';
import type { PolicyRule } from '../../api/rbac.js';
import { deepEqual } from '../objects.js';
import { ApiError } from '../status.js';
import type { Resources } from '../resources.js';
import { AUTHENTICATED_GROUP, MASTERS_GROUP } from './authn.js';

import { NODES_GROUP, nodeUserName } from '../../api/agent-tls.js';

export { NODES_GROUP } from '../../api/agent-tls.js';
export const CONTROLLER_USER = 'system:berth-controller';
export const nodeUser = nodeUserName;

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const B = 'berth.dev';
const RBAC = 'rbac.authorization.k8s.io';
const AUTHZ = 'authorization.k8s.io';
/** The registry of `berth server`: repositories/NAME in the namespace of the repository's first component. */
const REGISTRY = 'registry.berth.dev';

/** What may be read in a namespace without seeing its secrets or the inside of its containers. */
const viewRules: PolicyRule[] = [
  {
    apiGroups: [B],
    resources: ['containers', 'containers/status', 'containers/log', 'containers/top', 'containers/stats', 'volumes', 'volumes/status', 'images', 'images/status', 'networks', 'networks/status', 'gitsyncs', 'gitsyncs/status'],
    verbs: READ,
  },
  { apiGroups: [''], resources: ['events', 'namespaces', 'namespaces/status'], verbs: READ },
  // cluster-scoped: granted only by a ClusterRoleBinding
  { apiGroups: [B], resources: ['nodes', 'nodes/status'], verbs: READ },
  { apiGroups: [B], resources: ['nodes/proxy'], verbs: ['get'] },
  // pull from the registry
  { apiGroups: [REGISTRY], resources: ['repositories'], verbs: ['get', 'list'] },
];

/** Objects of a namespace, secrets, and the inside of its containers (exec, attach, kill, cp, diff, export). */
const editRules: PolicyRule[] = [
  ...viewRules,
  { apiGroups: [B], resources: ['containers', 'volumes', 'images', 'networks', 'gitsyncs'], verbs: WRITE },
  { apiGroups: [B], resources: ['containers/exec', 'containers/attach'], verbs: ['create', 'get'] },
  { apiGroups: [B], resources: ['containers/kill'], verbs: ['create'] },
  // docker diff and docker export: what the container's files are
  { apiGroups: [B], resources: ['containers/changes', 'containers/export'], verbs: ['get'] },
  { apiGroups: [B], resources: ['containers/archive'], verbs: ['get', 'update'] },
  { apiGroups: [''], resources: ['secrets'], verbs: [...READ, ...WRITE] },
  { apiGroups: [B], resources: ['nodes/proxy'], verbs: ['create', 'delete', 'get'] },
  { apiGroups: [B], resources: ['nodes/build'], verbs: ['create'] },
  // push (create), move a tag (update), delete
  { apiGroups: [REGISTRY], resources: ['repositories'], verbs: ['create', 'update', 'delete'] },
];

/** edit, and who may do what in the namespace. */
const adminRules: PolicyRule[] = [
  ...editRules,
  { apiGroups: [RBAC], resources: ['roles', 'rolebindings'], verbs: [...READ, ...WRITE] },
  { apiGroups: [AUTHZ], resources: ['localsubjectaccessreviews'], verbs: ['create'] },
];

interface DefaultRole {
  name: string;
  rules: PolicyRule[];
  /** Subjects of the ClusterRoleBinding of the same name; none: the role is only offered. */
  subjects?: { kind: 'User' | 'Group'; name: string }[];
}

export const DEFAULT_ROLES: DefaultRole[] = [
  {
    name: 'cluster-admin',
    rules: [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ],
    subjects: [{ kind: 'Group', name: MASTERS_GROUP }],
  },
  { name: 'admin', rules: adminRules },
  { name: 'edit', rules: editRules },
  { name: 'view', rules: viewRules },
  {
    name: 'system:discovery',
    rules: [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*', '/version', '/version/', '/healthz', '/livez', '/readyz'], verbs: ['get'] }],
    subjects: [{ kind: 'Group', name: AUTHENTICATED_GROUP }],
  },
  {
    name: 'system:basic-user',
    rules: [{ apiGroups: [AUTHZ], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] }],
    subjects: [{ kind: 'Group', name: AUTHENTICATED_GROUP }],
  },
  {
    name: CONTROLLER_USER,
    rules: [
      { apiGroups: ['*'], resources: ['*'], verbs: [...READ, ...WRITE] },
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ],
    subjects: [{ kind: 'User', name: CONTROLLER_USER }],
  },
  {
    name: 'system:node',
    rules: [
      { apiGroups: [B], resources: ['containers', 'volumes', 'images', 'networks'], verbs: [...READ, 'patch', 'update'] },
      // the agent makes the node's default network
      { apiGroups: [B], resources: ['networks'], verbs: ['create'] },
      { apiGroups: [B], resources: ['containers/status', 'volumes/status', 'images/status', 'networks/status'], verbs: ['get', 'patch', 'update'] },
      { apiGroups: [B], resources: ['nodes'], verbs: [...READ, 'create', 'patch', 'update'] },
      { apiGroups: [B], resources: ['nodes/status'], verbs: ['get', 'patch', 'update'] },
      // its endpoint's certificate (only for its own node: node-certificate.ts checks the name)
      { apiGroups: [B], resources: ['nodes/certificate'], verbs: ['create'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: READ },
      // the agent pulls images and pushes builds and commits at its server's registry
      { apiGroups: [REGISTRY], resources: ['repositories'], verbs: ['get', 'list', 'create', 'update'] },
    ],
    subjects: [{ kind: 'Group', name: NODES_GROUP }],
  },
];

const LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate';
const MANAGER = { fieldManager: 'berth-apiserver', dryRun: false, fieldValidation: 'Strict' as const };

async function getIfExists(resources: Resources, kind: KindInfo, name: string): Promise<ApiObject | undefined> {
  try {
    return await resources.get(kind, '', name);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

/** Writes the default roles and bindings: missing ones created, changed ones put back (unless autoupdate is "false"). */
export async function ensureBootstrapPolicy(resources: Resources, kinds: KindInfo[]): Promise<void> {
  const kind = (plural: string) => kinds.find((k) => k.group === RBAC && k.plural === plural);
  const crKind = kind('clusterroles');
  const crbKind = kind('clusterrolebindings');
  if (!crKind || !crbKind) return;
  for (const role of DEFAULT_ROLES) {
    const wantRole = { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: role.name, labels: LABELS, annotations: { [AUTOUPDATE]: 'true' } }, rules: role.rules };
    const have = await getIfExists(resources, crKind, role.name);
    if (!have) await resources.create(crKind, '', wantRole, MANAGER);
    else if (have.metadata.annotations?.[AUTOUPDATE] !== 'false' && !deepEqual(have.rules, role.rules)) {
      await resources.replace(crKind, '', role.name, { ...have, rules: role.rules }, MANAGER, undefined);
    }
    if (!role.subjects) continue;
    const subjects = role.subjects.map((s) => ({ ...s, apiGroup: RBAC }));
    const wantBinding = {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: role.name, labels: LABELS, annotations: { [AUTOUPDATE]: 'true' } },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role.name },
      subjects,
    };
    const binding = await getIfExists(resources, crbKind, role.name);
    if (!binding) await resources.create(crbKind, '', wantBinding, MANAGER);
    else if (binding.metadata.annotations?.[AUTOUPDATE] !== 'false' && !deepEqual(binding.subjects, subjects)) {
      await resources.replace(crbKind, '', role.name, { ...binding, subjects }, MANAGER, undefined);
    }
  }
}
