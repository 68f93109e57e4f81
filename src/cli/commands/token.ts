/**
 * `berth token create NAME --role view|edit|admin|cluster-admin [--namespace NS] [--ttl 24h]`: a
 * narrower identity than the admin's. The token is made here; the server gets only its SHA-256 (a
 * Secret kube-system/berth-token-ID) and a binding of the role to user NAME: a RoleBinding in NS,
 * or with no --namespace a ClusterRoleBinding. The kubeconfig for it (this kubeconfig's server and
 * CA, the new token) is written to --output FILE (mode 0600) or printed.
 * `berth token create --node NAME`: the identity of one node's agent (user system:node:NAME in group
 * system:nodes, which the ClusterRole system:node is bound to; no expiry unless --ttl), for `berth agent
 * --kubeconfig`: one credential per node, and the one its endpoint certificate is issued to.
 * `berth token delete ID` revokes a token; `berth token list` shows them (never the tokens).
 */
import { writeFileSync } from 'node:fs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { IDENTITY_NAME, newToken, tokenSecret, TOKEN_NAMESPACE, TOKEN_SECRET_PREFIX, TOKEN_SECRET_TYPE } from '../../api/token.js';
import { clientFlags, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError, statusOf } from '../errors.js';
import { parseDuration } from './delete.js';
import { stdio, type Printer } from '../output/print.js';

const ROLES = ['view', 'edit', 'admin', 'cluster-admin'];
const RBAC = 'rbac.authorization.k8s.io';

const spec = {
  name: 'token',
  usage: 'berth token create NAME --role view|edit|admin|cluster-admin [--namespace NS] [--ttl DURATION] [--group G]... [--output FILE] | berth token create --node NODE [--ttl DURATION] [--output FILE] | berth token list | berth token delete ID',
  summary: "Make, list or revoke bearer tokens of users with one of the default roles, and write a kubeconfig for one.",
  flags: {
    ...clientFlags,
    role: { type: 'string', valueName: 'ROLE', description: `the ClusterRole granted: ${ROLES.join(', ')}` },
    namespace: { type: 'string', short: 'n', valueName: 'NS', description: 'grant the role in this namespace only (a RoleBinding); everywhere when omitted (a ClusterRoleBinding)' },
    ttl: { type: 'string', valueName: 'DURATION', description: 'how long the token is valid, e.g. 30m, 24h, 720h; 0 for no expiry (default 24h; with --node, no expiry)' },
    node: { type: 'string', valueName: 'NODE', description: "a node agent's identity: user system:node:NODE in group system:nodes (no NAME, no --role)" },
    group: { type: 'string', multiple: true, valueName: 'GROUP', description: 'groups the user is in besides system:authenticated' },
    output: { type: 'string', short: 'o', valueName: 'FILE', description: 'write the kubeconfig here (mode 0600) instead of printing it' },
  },
  positionals: { min: 1, max: 2 },
  examples: ['berth token create alice --role view', 'berth token create --node node1 -o node1.kubeconfig', 'berth token create ci --role edit --namespace web --ttl 720h -o ci.kubeconfig', 'berth token list', 'berth token delete k3x9a0b2'],
} satisfies CommandSpec<FlagSpecs>;

type Obj = KubernetesObject & Record<string, unknown>;

function isAlreadyExists(err: unknown): boolean {
  return statusOf(err)?.code === 409;
}

export async function tokenCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const [verb, arg] = parsed.positionals;
  const { client } = connect({ ...v, namespace: undefined });
  if (verb === 'list') {
    const list = (await client.objects.list('v1', 'Secret', TOKEN_NAMESPACE)) as unknown as { items: Obj[] };
    const rows = list.items.filter((s) => s.type === TOKEN_SECRET_TYPE);
    const dec = (s: Obj, k: string) => Buffer.from(String((s.data as Record<string, string> | undefined)?.[k] ?? ''), 'base64').toString('utf8');
    printer.out(['ID        USER                  GROUPS                EXPIRES', ...rows.map((s) => `${(s.metadata?.name ?? '').slice(TOKEN_SECRET_PREFIX.length).padEnd(9)} ${dec(s, 'user').padEnd(21)} ${(dec(s, 'groups') || '-').padEnd(21)} ${dec(s, 'expiration') || 'never'}`)].join('\n'));
    return;
  }
  if (verb === 'delete') {
    if (!arg || !/^[a-z0-9]{8}$/.test(arg)) throw new CliError('berth token delete ID: ID is the 8 characters before the dot of the token (see berth token list)');
    await client.objects.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${TOKEN_SECRET_PREFIX}${arg}`, namespace: TOKEN_NAMESPACE } });
    printer.out(`token ${arg} revoked`);
    return;
  }
  if (verb !== 'create') throw new CliError(`berth token: unknown verb "${verb}" (create, list or delete)`);
  if (v.node !== undefined) return createNodeToken(client, v.node, v.ttl, v.output, printer, { name: arg, role: v.role, namespace: v.namespace, group: v.group });
  const name = arg;
  if (!name || !IDENTITY_NAME.test(name) || name.startsWith('system:')) {
    throw new CliError('berth token create NAME: NAME is the user, letters, digits and :._@- (at most 253), not starting with system:');
  }
  const role = v.role;
  if (!role || !ROLES.includes(role)) throw new CliError(`--role is required: one of ${ROLES.join(', ')}`);
  const namespace = v.namespace;
  if (namespace !== undefined && role === 'cluster-admin') throw new CliError('--role cluster-admin is cluster-wide: leave out --namespace');
  const groups = v.group ?? [];
  for (const g of groups) if (!IDENTITY_NAME.test(g) || g.startsWith('system:')) throw new CliError(`--group "${g}": letters, digits and :._@-, not starting with system:`);
  const ttlText = v.ttl ?? '24h';
  const ttlMs = ttlText === '0' ? 0 : parseDuration(ttlText);
  const expiration = ttlMs > 0 ? new Date(Date.now() + ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;

  const t = newToken();
  await client.objects.create(tokenSecret(t, { user: name, groups, ...(expiration ? { expiration } : {}) }) as Obj);
  const bindingName = `berth-token:${name}:${role}`;
  const binding: Obj = {
    apiVersion: `${RBAC}/v1`,
    kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: { name: bindingName, ...(namespace ? { namespace } : {}) },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'User', apiGroup: RBAC, name }],
  };
  try {
    await client.objects.create(binding);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }

  const yaml = kubeconfigFor(client, name, t.token, namespace ?? 'default');
  const scope = namespace ? `in namespace ${namespace} (RoleBinding ${namespace}/${bindingName})` : `in every namespace (ClusterRoleBinding ${bindingName})`;
  const until = expiration ? `until ${expiration}` : 'with no expiry';
  if (v.output) {
    writeFileSync(v.output, yaml, { mode: 0o600 });
    printer.out(`token ${t.id} for user ${name}: role ${role} ${scope}, valid ${until}; kubeconfig written to ${v.output}`);
  } else {
    printer.err(`token ${t.id} for user ${name}: role ${role} ${scope}, valid ${until}`);
    printer.out(yaml.trimEnd());
  }
}

type Client = ReturnType<typeof connect>['client'];

/** A kubeconfig with this one's server and CA and the new token. */
function kubeconfigFor(client: Client, user: string, token: string, namespace: string): string {
  const cluster = client.kc.getCurrentCluster()!;
  const contextName = `${user}@berth`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'berth', cluster: { server: cluster.server, ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}), ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}) } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: contextName, context: { cluster: 'berth', user, namespace } }],
    'current-context': contextName,
    preferences: {},
  });
}

/** berth token create --node NODE: the agent's identity; the system:nodes group carries its rights. */
async function createNodeToken(client: Client, node: string, ttl: string | undefined, output: string | undefined, printer: Printer, others: { name?: string; role?: string; namespace?: string; group?: string[] }): Promise<void> {
  if (others.name || others.role || others.namespace || others.group?.length) throw new CliError('berth token create --node NODE takes no NAME, --role, --namespace or --group: a node is user system:node:NODE in group system:nodes');
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node)) throw new CliError(`--node "${node}": a node name is a DNS subdomain (lowercase letters, digits, - and .)`);
  const ttlMs = ttl === undefined || ttl === '0' ? 0 : parseDuration(ttl);
  const expiration = ttlMs > 0 ? new Date(Date.now() + ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
  const user = `system:node:${node}`;
  const t = newToken();
  await client.objects.create(tokenSecret(t, { user, groups: ['system:nodes'], ...(expiration ? { expiration } : {}) }) as Obj);
  const yaml = kubeconfigFor(client, user, t.token, 'default');
  const what = `token ${t.id} for node ${node} (user ${user}, group system:nodes), valid ${expiration ? `until ${expiration}` : 'with no expiry'}`;
  if (output) {
    writeFileSync(output, yaml, { mode: 0o600 });
    printer.out(`${what}; kubeconfig written to ${output} (berth agent --kubeconfig ${output} --node-name ${node})`);
  } else {
    printer.err(what);
    printer.out(yaml.trimEnd());
  }
}
