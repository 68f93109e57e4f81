import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/api-server.js';
import { run } from '../helpers/run.js';

let t: TestServer;
let kc: (...args: string[]) => ReturnType<typeof run>;

beforeAll(async () => {
  t = await startTestServer();
  kc = (...args: string[]) => run('kubectl', ['--kubeconfig', t.server.kubeconfigPath, ...args], { timeoutMs: 30_000 });
});
afterAll(async () => {
  await t.stop();
});

const manifest = (value: string) => `apiVersion: berth.dev/v1alpha1
kind: Container
metadata:
  name: web
  labels: {app: web}
spec:
  image: busybox:latest
  command: ["httpd", "-f", "-p", "8080"]
  env:
  - name: GREETING
    value: "${value}"
`;

describe('real kubectl against berth', () => {
  it('lists the berth kinds in api-resources', async () => {
    const r = await kc('api-resources');
    expect(r.code, r.stderr).toBe(0);
    for (const line of [/^containers\s+ctr\s+berth\.dev\/v1alpha1\s+true\s+Container$/m, /^volumes\s+vol\s+berth\.dev\/v1alpha1\s+true\s+Volume$/m, /^images\s+img\s+berth\.dev\/v1alpha1\s+true\s+Image$/m]) {
      expect(r.stdout).toMatch(line);
    }
  });

  it('applies, re-applies unchanged, reconfigures and server-side applies', async () => {
    const file = join(t.dataDir, 'web.yaml');
    await writeFile(file, manifest('hello'));
    expect((await kc('apply', '-f', file)).stdout.trim()).toBe('container.berth.dev/web created');
    expect((await kc('apply', '-f', file)).stdout.trim()).toBe('container.berth.dev/web unchanged');
    await writeFile(file, manifest('bonjour'));
    expect((await kc('apply', '-f', file)).stdout.trim()).toBe('container.berth.dev/web configured');
    const ssa = await kc('apply', '--server-side', '-f', file);
    expect(ssa.code, ssa.stderr).toBe(0);
    expect(ssa.stdout.trim()).toBe('container.berth.dev/web serverside-applied');
    const conflict = await kc('apply', '--server-side', '--field-manager', 'other', '-f', join(t.dataDir, 'web.yaml'));
    expect(conflict.code).toBe(0);
    await writeFile(file, manifest('hola'));
    const clash = await kc('apply', '--server-side', '--field-manager', 'intruder', '-f', file);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/conflict/i);
    const got = await kc('get', 'container', 'web', '-o', 'jsonpath={.spec.env[0].value}');
    expect(got.stdout).toBe('bonjour');
  });

  it('gets with printer columns, describes, labels, patches', async () => {
    const table = await kc('get', 'containers');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+IMAGE\s+STATE\s+RESTARTS\s+NODE\s+AGE$/);
    expect(table.stdout).toMatch(/^web\s+busybox:latest\s+/m);
    const wide = await kc('get', 'ctr', '-o', 'wide');
    expect(wide.stdout.split('\n')[0]).toContain('CONTAINERID');

    const described = await kc('describe', 'container', 'web');
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/^Name:\s+web$/m);
    expect(described.stdout).toMatch(/Image:\s+busybox:latest/);

    expect((await kc('label', 'ctr', 'web', 'tier=front')).stdout.trim()).toBe('container.berth.dev/web labeled');
    expect((await kc('get', 'ctr', '-l', 'tier=front', '-o', 'name')).stdout.trim()).toBe('container.berth.dev/web');
    expect((await kc('patch', 'ctr', 'web', '--type=merge', '-p', '{"spec":{"args":["-v"]}}')).stdout.trim()).toBe('container.berth.dev/web patched');
    expect((await kc('patch', 'ctr', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/image","value":"busybox:2"}]')).code).toBe(0);
    expect((await kc('patch', 'ctr', 'web', '-p', '{"spec":{"env":[{"name":"EXTRA","value":"1"}]}}')).code).toBe(0);
    const env = await kc('get', 'ctr', 'web', '-o', 'jsonpath={.spec.env[*].name} {.spec.image} {.spec.args[0]}');
    expect(env.stdout).toBe('GREETING EXTRA busybox:2 -v');
  });

  it('creates and deletes a namespace (kubectl sends protobuf for built-in kinds)', async () => {
    expect((await kc('create', 'namespace', 'team-a')).stdout.trim()).toBe('namespace/team-a created');
    const inNs = await run('kubectl', ['--kubeconfig', t.server.kubeconfigPath, '-n', 'team-a', 'apply', '-f', '-'], { input: manifest('x') });
    expect(inNs.code, inNs.stderr).toBe(0);
    const del = await kc('delete', 'namespace', 'team-a');
    expect(del.code, del.stderr).toBe(0);
    expect((await kc('get', 'ctr', '-n', 'team-a', '-o', 'name')).stdout.trim()).toBe('');
    expect((await kc('get', 'namespace', 'team-a')).code).not.toBe(0);
  });

  it('creates a registry Secret with kubectl create secret docker-registry', async () => {
    const r = await kc('create', 'secret', 'docker-registry', 'regcred', '--docker-server=registry.example:5000', '--docker-username=u', '--docker-password=p');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('secret/regcred created');
    expect((await kc('get', 'secret', 'regcred', '-o', 'jsonpath={.type}')).stdout).toBe('kubernetes.io/dockerconfigjson');
    const data = (await kc('get', 'secret', 'regcred', '-o', 'jsonpath={.data.\\.dockerconfigjson}')).stdout;
    const config = JSON.parse(Buffer.from(data, 'base64').toString()) as { auths: Record<string, { username: string; password: string }> };
    expect(config.auths['registry.example:5000']).toMatchObject({ username: 'u', password: 'p' });
  });

  it('explains fields from the OpenAPI document', async () => {
    const r = await kc('explain', 'container.spec.volumeMounts');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('KIND:       Container');
    expect(r.stdout).toMatch(/mountPath\s+<string> -required-/);
  });

  it('sees changes with get -w', async () => {
    const child = spawn('kubectl', ['--kubeconfig', t.server.kubeconfigPath, 'get', 'ctr', '-w', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await expect.poll(() => /ADDED\s+web/.test(out), { timeout: 15_000 }).toBe(true);
      await kc('label', 'ctr', 'web', 'seen=yes');
      await expect.poll(() => /MODIFIED\s+web/.test(out), { timeout: 15_000 }).toBe(true);
    } finally {
      child.kill();
    }
  });

  it('rejects a bad manifest naming the field, and deletes', async () => {
    const bad = join(t.dataDir, 'bad.yaml');
    await writeFile(bad, manifest('x').replace('image: busybox:latest', 'image: busybox:latest\n  restartPolicy: Sometimes'));
    const r = await kc('apply', '-f', bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.restartPolicy');
    const unknown = await run('kubectl', ['--kubeconfig', t.server.kubeconfigPath, 'apply', '-f', '-'], {
      input: manifest('x').replace('image: busybox:latest', 'image: busybox:latest\n  colour: red').replace('name: web', 'name: web2'),
    });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown field "spec.colour"');
    expect((await kc('get', 'ctr', 'web2')).code).not.toBe(0);

    expect((await kc('delete', 'ctr', 'web')).stdout.trim()).toBe('container.berth.dev "web" deleted');
    const gone = await kc('get', 'ctr', 'web');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('containers.berth.dev "web" not found');
  });
});
