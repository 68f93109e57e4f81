/**
 * Who may do what (issue 17, finding 1): a real `berth server`, real kubectl, and identities made
 * with `berth token create`. Before RBAC, any token the server took could create, anywhere, a
 * Container mounting the host's / read-write. Now: a view token is refused with Kubernetes' 403
 * message, an edit token in its namespace is refused that Container by the namespace's baseline
 * level, `kubectl auth can-i` answers as the bindings say, nobody grants what they do not hold,
 * revoked tokens and client certificates from another CA are refused, certificates of Berth's CA
 * authenticate as CN in groups O.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv } from '../helpers/berth-bin.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const haveKubectl = spawnSync('sh', ['-c', 'command -v kubectl && command -v openssl']).status === 0;

const hostRoot = (name: string, ns = 'default') => `apiVersion: berth.dev/v1alpha1
kind: Container
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  image: busybox:latest
  command: ["sh", "-c", "cat /host/etc/shadow"]
  volumeMounts:
  - hostPath: /
    mountPath: /host
`;

describe.skipIf(!haveKubectl)('RBAC: tokens, roles, can-i and 403s through a real berth server', () => {
  let dir: string;
  let server: ServerProcess;
  const kubectl = (kubeconfig: string, ...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 30_000 });
  const admin = (...args: string[]) => kubectl(server.kubeconfig, ...args);
  const berth = (...args: string[]) => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { timeoutMs: 30_000 });
  };
  /** A kubeconfig for a new token of `user`, made by `berth token create` with the admin's kubeconfig. */
  const token = async (user: string, ...flags: string[]): Promise<string> => {
    const file = join(dir, `${user}.kubeconfig`);
    const r = await berth('token', 'create', user, '--kubeconfig', server.kubeconfig, '-o', file, ...flags);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`for user ${user}`);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-rbac-'));
    server = await startServerProcess(join(dir, 'data'), ['--no-agent', '--no-registry']);
    expect((await admin('create', 'namespace', 'team')).code).toBe(0);
    await writeFile(join(dir, 'root.yaml'), hostRoot('root'));
    await writeFile(join(dir, 'root-team.yaml'), hostRoot('root', 'team'));
  });
  afterAll(async () => {
    await server?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('berth server says where the admin kubeconfig is', () => {
    expect(server.output()).toContain(`admin kubeconfig at ${server.kubeconfig}`);
  });

  it('a view token is refused the hostPath / Container with Kubernetes 403 message, and can-i answers as configured', async () => {
    const alice = await token('alice', '--role', 'view');
    const created = await kubectl(alice, 'create', '-f', join(dir, 'root.yaml'));
    expect(created.code).not.toBe(0);
    expect(created.stderr).toContain(
      'containers.berth.dev "root" is forbidden: User "alice" cannot create resource "containers" in API group "berth.dev" in the namespace "default"',
    );
    expect((await admin('get', 'container', 'root')).code).not.toBe(0);
    const canI = async (...args: string[]) => (await kubectl(alice, 'auth', 'can-i', ...args)).stdout.trim();
    expect(await canI('create', 'containers')).toBe('no');
    expect(await canI('get', 'containers')).toBe('yes');
    expect(await canI('list', 'containers', '-n', 'team')).toBe('yes');
    expect(await canI('create', 'containers/exec')).toBe('no');
    expect(await canI('get', 'containers/log')).toBe('yes');
    expect(await canI('get', 'secrets')).toBe('no');
    expect(await canI('create', 'clusterrolebindings')).toBe('no');
    expect((await kubectl(alice, 'get', 'containers')).code).toBe(0);
    const del = await kubectl(alice, 'delete', 'namespace', 'team');
    // as kube-apiserver says it: a namespace's own namespace is itself
    expect(del.stderr).toContain('namespaces "team" is forbidden: User "alice" cannot delete resource "namespaces" in API group "" in the namespace "team"');
    const nodes = await kubectl(alice, 'get', 'nodes', '-n', 'team');
    expect(nodes.code).toBe(0); // view is bound cluster-wide: nodes included
  });

  it('an edit token in one namespace: can-i as bound; the hostPath / Container is refused by the baseline level', async () => {
    const bob = await token('bob', '--role', 'edit', '--namespace', 'team');
    const canI = async (...args: string[]) => (await kubectl(bob, 'auth', 'can-i', ...args)).stdout.trim();
    expect(await canI('create', 'containers', '-n', 'team')).toBe('yes');
    expect(await canI('create', 'containers', '--subresource', 'exec', '-n', 'team')).toBe('yes');
    // berth attach, kill, diff and export (and docker's) are edit's as exec is; view has none of them
    for (const [verb, sub] of [['create', 'attach'], ['create', 'kill'], ['get', 'changes'], ['get', 'export']]) {
      expect([sub, await canI(verb!, 'containers', '--subresource', sub!, '-n', 'team')]).toEqual([sub, 'yes']);
      expect([sub, (await admin('auth', 'can-i', verb!, 'containers', '--subresource', sub!, '-n', 'team', '--as', 'alice')).stdout.trim()]).toEqual([sub, 'no']);
    }
    expect(await canI('create', 'containers', '-n', 'default')).toBe('no');
    expect(await canI('create', 'rolebindings', '-n', 'team')).toBe('no');
    const list = await kubectl(bob, 'auth', 'can-i', '--list', '-n', 'team');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^containers\.berth\.dev\s+\[\]\s+\[\]\s+\[get list watch create delete deletecollection patch update\]$/m);
    expect(list.stdout).toMatch(/^containers\.berth\.dev\/exec\s+\[\]\s+\[\]\s+\[create get\]$/m);
    expect(list.stdout).not.toMatch(/^rolebindings/m);
    const refused = await kubectl(bob, 'create', '-f', join(dir, 'root-team.yaml'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('containers.berth.dev "root" is forbidden: violates PodSecurity "baseline" of namespace "team"');
    expect(refused.stderr).toContain('spec.volumeMounts[0].hostPath "/" is outside the allowed host paths');
    // the same Container without the host path is fine
    const plain = join(dir, 'plain.yaml');
    await writeFile(plain, 'apiVersion: berth.dev/v1alpha1\nkind: Container\nmetadata: {name: plain, namespace: team}\nspec: {image: busybox:latest}\n');
    const made = await kubectl(bob, 'create', '-f', plain);
    expect(made.code, made.stderr).toBe(0);
    // the admin is held to the namespace's level too
    expect((await admin('create', '-f', join(dir, 'root-team.yaml'))).stderr).toContain('violates PodSecurity "baseline"');
    expect((await admin('label', 'namespace', 'team', 'berth.dev/enforce=privileged')).code).toBe(0);
    const now = await kubectl(bob, 'create', '--dry-run=server', '-f', join(dir, 'root-team.yaml'));
    expect(now.code, now.stderr).toBe(0);
    const badLabel = await admin('label', '--overwrite', 'namespace', 'team', 'berth.dev/enforce=lenient');
    expect(badLabel.stderr).toContain('Unsupported value: "lenient"');
  });

  it('nobody grants what they do not hold: a namespace admin cannot bind cluster-admin, nor write a role beyond its own', async () => {
    const carol = await token('carol', '--role', 'admin', '--namespace', 'team');
    const bind = await kubectl(carol, 'create', 'rolebinding', 'grab', '-n', 'team', '--clusterrole', 'cluster-admin', '--user', 'carol');
    expect(bind.code).not.toBe(0);
    expect(bind.stderr).toContain('is attempting to grant RBAC permissions not currently held');
    const wide = await kubectl(carol, 'create', 'role', 'wide', '-n', 'team', '--verb', '*', '--resource', 'nodes.berth.dev');
    expect(wide.code).not.toBe(0);
    const edit = await kubectl(carol, 'create', 'rolebinding', 'dave-edit', '-n', 'team', '--clusterrole', 'edit', '--user', 'dave');
    expect(edit.code, edit.stderr).toBe(0);
    expect((await kubectl(carol, 'create', 'role', 'readers', '-n', 'team', '--verb', 'get', '--resource', 'containers.berth.dev')).code).toBe(0);
    // the admin asks as dave (impersonation), and through a SubjectAccessReview
    expect((await admin('auth', 'can-i', 'create', 'containers', '-n', 'team', '--as', 'dave')).stdout.trim()).toBe('yes');
    expect((await admin('auth', 'can-i', 'create', 'containers', '-n', 'default', '--as', 'dave')).stdout.trim()).toBe('no');
    // dave may not impersonate anyone
    const daveConfig = await token('dave', '--role', 'view');
    expect((await kubectl(daveConfig, 'get', 'containers', '--as', 'admin')).stderr).toContain('User "dave" cannot impersonate resource "users" in API group "" at the cluster scope');
    const review = await server.api('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'dave', resourceAttributes: { namespace: 'team', verb: 'create', group: 'berth.dev', resource: 'containers' } } }),
    });
    expect(review.status).toBe(201);
    expect(((await review.json()) as { status: { allowed: boolean } }).status.allowed).toBe(true);
  });

  it('berth token create --node: a node agent identity (system:node:NAME in system:nodes) with the node role only', async () => {
    const file = join(dir, 'node1.kubeconfig');
    const r = await berth('token', 'create', '--node', 'node1', '--kubeconfig', server.kubeconfig, '-o', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('for node node1 (user system:node:node1, group system:nodes), valid with no expiry');
    const canI = async (...args: string[]) => (await kubectl(file, 'auth', 'can-i', ...args)).stdout.trim();
    expect(await canI('update', 'containers', '--subresource', 'status', '-n', 'team')).toBe('yes');
    expect(await canI('create', 'nodes')).toBe('yes');
    expect(await canI('create', 'containers', '-n', 'team')).toBe('no');
    expect(await canI('delete', 'secrets', '-n', 'team')).toBe('no');
    const bad = await berth('token', 'create', '--node', 'node1', '--role', 'edit', '--kubeconfig', server.kubeconfig);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--node NODE takes no NAME, --role');
    const badName = await berth('token', 'create', '--node', 'Node_1', '--kubeconfig', server.kubeconfig);
    expect(badName.stderr).toContain('--node "Node_1": a node name is a DNS subdomain');
  });

  it('a revoked token and an expired one are refused with 401', async () => {
    const file = await token('erin', '--role', 'view');
    expect((await kubectl(file, 'get', 'containers')).code).toBe(0);
    const cfg = parse(await readFile(file, 'utf8')) as { users: { user: { token: string } }[] };
    const id = cfg.users[0]!.user.token.split('.')[0]!;
    expect((await berth('token', 'list', '--kubeconfig', server.kubeconfig)).stdout).toMatch(new RegExp(`${id}\\s+erin\\s`));
    expect((await berth('token', 'delete', id, '--kubeconfig', server.kubeconfig)).code).toBe(0);
    await expect.poll(async () => (await kubectl(file, 'get', 'containers')).stderr, { timeout: 30_000, interval: 500 }).toContain('Unauthorized');
    const short = await token('frank', '--role', 'view', '--ttl', '1s');
    await expect.poll(async () => (await kubectl(short, 'get', 'containers')).stderr, { timeout: 30_000, interval: 500 }).toContain('Unauthorized');
  });

  it('a client certificate of Berth CA authenticates as CN in groups O; one from another CA does not', async () => {
    const tls = join(dir, 'data', 'tls');
    const openssl = (...args: string[]) => run('openssl', args, { timeoutMs: 30_000 });
    const key = join(dir, 'gina.key');
    const csr = join(dir, 'gina.csr');
    const crt = join(dir, 'gina.crt');
    expect((await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=gina/O=auditors')).code).toBe(0);
    expect((await openssl('x509', '-req', '-in', csr, '-CA', join(tls, 'ca.crt'), '-CAkey', join(tls, 'ca.key'), '-CAcreateserial', '-out', crt, '-days', '1')).code).toBe(0);
    const cfg = parse(await readFile(server.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] };
    const kubeconfig = join(dir, 'gina.kubeconfig');
    const write = (certFile: string, keyFile: string) =>
      writeFile(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'b', cluster: cfg.clusters[0]!.cluster }],
          users: [{ name: 'gina', user: { 'client-certificate-data': Buffer.from(certFile).toString('base64'), 'client-key-data': Buffer.from(keyFile).toString('base64') } }],
          contexts: [{ name: 'b', context: { cluster: 'b', user: 'gina' } }],
          'current-context': 'b',
        }),
      );
    await write(await readFile(crt, 'utf8'), await readFile(key, 'utf8'));
    const denied = await kubectl(kubeconfig, 'get', 'containers');
    expect(denied.stderr).toContain('User "gina" cannot list resource "containers" in API group "berth.dev" in the namespace "default"');
    expect((await admin('create', 'clusterrolebinding', 'auditors-view', '--clusterrole', 'view', '--group', 'auditors')).code).toBe(0);
    expect((await kubectl(kubeconfig, 'get', 'containers')).code).toBe(0);
    // self-signed by someone else: not Berth's CA
    const other = join(dir, 'other.crt');
    expect((await openssl('req', '-x509', '-key', key, '-out', other, '-days', '1', '-subj', '/CN=admin/O=system:masters')).code).toBe(0);
    await write(await readFile(other, 'utf8'), await readFile(key, 'utf8'));
    const forged = await kubectl(kubeconfig, 'get', 'containers');
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/Unauthorized|unknown authority|certificate/i);
  });

  it('the default roles exist as Kubernetes has them; the in-process roles run as their own users', async () => {
    const roles = await admin('get', 'clusterroles', '-o', 'name');
    for (const r of ['cluster-admin', 'admin', 'edit', 'view', 'system:node', 'system:berth-controller']) expect(roles.stdout).toContain(`clusterrole.rbac.authorization.k8s.io/${r}\n`);
    const bindings = await admin('get', 'clusterrolebinding', 'system:berth-controller', '-o', 'jsonpath={.subjects[0].name}');
    expect(bindings.stdout).toBe('system:berth-controller');
  });
});
