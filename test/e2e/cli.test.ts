/**
 * The berth CLI (built on @kubernetes/client-node) against a real `berth server` process:
 * every command runs as its own subprocess, as a user would run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { containerKind } from '../../src/api/container.js';
import { berthArgv } from '../helpers/berth-bin.js';
import { run, type RunResult } from '../helpers/run.js';
import { freePort } from '../helpers/free-port.js';

const ROOT = resolve(import.meta.dirname, '../..');
const env = { ...process.env, NODE_NO_WARNINGS: '1', KUBECONFIG: '' };

let dir: string;
let kubeconfig: string;
let server: ChildProcess | undefined;
let serverOutput = '';

function berth(args: string[], input?: string): Promise<RunResult> {
  return run(...berthArgv([...args, '--kubeconfig', kubeconfig]), { cwd: ROOT, env, input, timeoutMs: 45_000 });
}


/** GET /readyz with the admin token and the CA from the kubeconfig; false while not ready or not listening. */
function ready(): Promise<boolean> {
  let cfg: { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[] };
  try {
    cfg = parse(readFileSync(kubeconfig, 'utf8'));
  } catch {
    return Promise.resolve(false);
  }
  const cluster = cfg.clusters[0]!.cluster;
  return new Promise((res) => {
    const req = request(
      `${cluster.server}/readyz`,
      { ca: Buffer.from(cluster['certificate-authority-data'], 'base64'), headers: { authorization: `Bearer ${cfg.users[0]!.user.token}` } },
      (r) => {
        r.resume();
        res(r.statusCode === 200);
      },
    );
    req.on('error', () => res(false));
    req.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-cli-e2e-'));
  const dataDir = join(dir, 'data');
  kubeconfig = join(dataDir, 'kubeconfig');
  const port = await freePort();
  const child = spawn(...berthArgv(['server', '--no-agent', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`]), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  child.stdout.on('data', (d: Buffer) => (serverOutput += d.toString()));
  child.stderr.on('data', (d: Buffer) => (serverOutput += d.toString()));
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`berth server exited early:\n${serverOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

const container = (name: string, image: string, extra = '') => `apiVersion: berth.dev/v1alpha1
kind: Container
metadata:
  name: ${name}
  labels:
    app: ${name}
spec:
  image: ${image}
  command: ["sleep", "1000"]${extra}
`;

const volume = (name: string) => `apiVersion: berth.dev/v1alpha1
kind: Volume
metadata:
  name: ${name}
spec: {}
`;

function expectOk(r: RunResult): void {
  expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
}

// Every CLI call is a fresh node process (about 2 s on a busy two-core machine), so allow for many per test.
describe('berth CLI against berth server', { timeout: 180_000 }, () => {
  it('lists the berth kinds with api-resources and prints both versions', async () => {
    const r = await berth(['api-resources']);
    expectOk(r);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$/);
    expect(r.stdout).toMatch(/^containers\s+ctr\s+berth\.dev\/v1alpha1\s+true\s+Container$/m);
    expect(r.stdout).toMatch(/^nodes\s+berth\.dev\/v1alpha1\s+false\s+Node$/m);
    expect(r.stdout).toMatch(/^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
    const v = await berth(['version']);
    expectOk(v);
    expect(v.stdout).toMatch(/^Client Version: v\d+\.\d+\.\d+$/m);
    expect(v.stdout).toMatch(/^Server Version: v\S+$/m);
  });

  it('applies: created, unchanged, configured, serverside-applied', async () => {
    const file = join(dir, 'app.yaml');
    await writeFile(file, `${container('web', 'busybox:1.36')}---\n${volume('data')}`);
    const first = await berth(['apply', '-f', file]);
    expectOk(first);
    expect(first.stdout).toBe('container.berth.dev/web created\nvolume.berth.dev/data created\n');

    const again = await berth(['apply', '-f', file]);
    expectOk(again);
    expect(again.stdout).toBe('container.berth.dev/web unchanged\nvolume.berth.dev/data unchanged\n');

    await writeFile(file, `${container('web', 'busybox:1.37')}---\n${volume('data')}`);
    const edited = await berth(['apply', '-f', file]);
    expectOk(edited);
    expect(edited.stdout).toBe('container.berth.dev/web configured\nvolume.berth.dev/data unchanged\n');

    const ssa = await berth(['apply', '--server-side', '-f', file]);
    expectOk(ssa);
    expect(ssa.stdout).toBe('container.berth.dev/web serverside-applied\nvolume.berth.dev/data serverside-applied\n');
  });

  it('reports a server-side apply conflict with another field manager, and takes over with --force-conflicts', async () => {
    const file = join(dir, 'conflict.yaml');
    await writeFile(file, container('web', 'busybox:9'));
    const clash = await berth(['apply', '--server-side', '--field-manager', 'intruder', '-f', file]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/^Error from server \(Conflict\): .*conflict\.yaml \(document 1\): /m);
    expect(clash.stderr).toContain('spec.image');
    expect(clash.stderr).toContain('--force-conflicts');
    const forced = await berth(['apply', '--server-side', '--force-conflicts', '--field-manager', 'intruder', '-f', file]);
    expectOk(forced);
    // Back to the file everyone else uses; the default mode overrides like kubectl apply.
    await writeFile(file, container('web', 'busybox:1.37'));
    const back = await berth(['apply', '-f', file]);
    expectOk(back);
    expect(back.stdout).toBe('container.berth.dev/web configured\n');
  });

  it('applies from stdin and a directory, namespaces first', async () => {
    const piped = await berth(['apply', '-f', '-'], container('piped', 'alpine:3'));
    expectOk(piped);
    expect(piped.stdout).toBe('container.berth.dev/piped created\n');

    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'nested'), { recursive: true });
    await writeFile(join(tree, 'a-app.yaml'), container('in-team', 'busybox:1').replace('metadata:\n', 'metadata:\n  namespace: team\n'));
    await writeFile(join(tree, 'z-ns.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }));
    await writeFile(join(tree, 'nested', 'vol.yml'), volume('nested-vol'));
    const flat = await berth(['apply', '-f', tree]);
    expectOk(flat);
    expect(flat.stdout).toBe('namespace/team created\ncontainer.berth.dev/in-team created\n');
    const deep = await berth(['apply', '-R', '-f', tree]);
    expectOk(deep);
    expect(deep.stdout).toBe('namespace/team unchanged\ncontainer.berth.dev/in-team unchanged\nvolume.berth.dev/nested-vol created\n');
  });

  it('gets a table with the printer columns, wide columns, all namespaces and names', async () => {
    const visible = containerKind.printerColumns.filter((c) => !c.priority).map((c) => c.name.toUpperCase());
    const wideOnly = containerKind.printerColumns.filter((c) => c.priority).map((c) => c.name.toUpperCase());

    const table = await berth(['get', 'containers']);
    expectOk(table);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', ...visible]);
    expect(rows.map((r) => r.split(/\s+/)[0]).sort()).toEqual(['piped', 'web']);
    expect(rows.find((r) => r.startsWith('web '))).toMatch(/^web\s+busybox:1\.37\s/);
    // Aligned: every row starts its second column where the header does.
    expect(new Set(rows.map((r) => r.indexOf(r.split(/\s+/)[1]!)))).toEqual(new Set([header!.indexOf('IMAGE')]));

    const wide = await berth(['get', 'ctr', '-o', 'wide']);
    expectOk(wide);
    expect(wide.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['NAME', ...visible, ...wideOnly]);

    const all = await berth(['get', 'containers', '-A']);
    expectOk(all);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+IMAGE/);
    expect(all.stdout).toMatch(/^team\s+in-team\s+busybox:1\s/m);
    expect(all.stdout).toMatch(/^default\s+web\s+/m);

    const named = await berth(['get', 'ctr', 'web']);
    expectOk(named);
    expect(named.stdout.trimEnd().split('\n')).toHaveLength(2);

    const byLabel = await berth(['get', 'containers', '-l', 'app=piped', '-o', 'name']);
    expectOk(byLabel);
    expect(byLabel.stdout).toBe('container.berth.dev/piped\n');

    const none = await berth(['get', 'containers', '-n', 'team', '-l', 'app=nothing']);
    expectOk(none);
    expect(none.stdout).toBe('');
    expect(none.stderr.trim()).toBe('No resources found in team namespace.');

    const clusterScoped = await berth(['get', 'ns', 'team']);
    expectOk(clusterScoped);
    expect(clusterScoped.stdout).toMatch(/^team\s+Active\s/m);
  });

  it('gets objects as yaml and json', async () => {
    const y = await berth(['get', 'container', 'web', '-o', 'yaml']);
    expectOk(y);
    const obj = parse(y.stdout) as { kind: string; metadata: { name: string; resourceVersion: string; creationTimestamp: string }; spec: { image: string; command: string[] } };
    expect(obj.kind).toBe('Container');
    expect(obj.metadata.name).toBe('web');
    expect(obj.spec).toMatchObject({ image: 'busybox:1.37', command: ['sleep', '1000'] });
    expect(obj.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const j = await berth(['get', 'ctr', '-o', 'json']);
    expectOk(j);
    const list = JSON.parse(j.stdout) as { kind: string; items: { apiVersion: string; kind: string; metadata: { name: string } }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['piped', 'web']);
    expect(list.items.every((i) => i.apiVersion === 'berth.dev/v1alpha1' && i.kind === 'Container')).toBe(true);

    const applied = await berth(['apply', '-f', join(dir, 'app.yaml'), '-o', 'yaml']);
    expectOk(applied);
    expect(parseAllDocuments(applied.stdout).map((d) => (d.toJS() as { kind: string }).kind)).toEqual(['List']);
  });

  it('describes an object with its spec and events', async () => {
    const event = `apiVersion: v1
kind: Event
metadata:
  name: web.pulled
involvedObject:
  apiVersion: berth.dev/v1alpha1
  kind: Container
  name: web
  namespace: default
reason: Pulled
message: Pulled image busybox:1.37
type: Normal
source:
  component: berth-agent
lastTimestamp: "${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}"
`;
    expectOk(await berth(['apply', '-f', '-'], event));
    const d = await berth(['describe', 'container', 'web']);
    expectOk(d);
    expect(d.stdout).toMatch(/^Name:\s+web$/m);
    expect(d.stdout).toMatch(/^Namespace:\s+default$/m);
    expect(d.stdout).toMatch(/^Labels:\s+app=web$/m);
    expect(d.stdout).toMatch(/^Kind:\s+Container$/m);
    expect(d.stdout).toMatch(/^Spec:\n {2}Image:\s+busybox:1\.37$/m);
    expect(d.stdout).toMatch(/^ {2}Command:\n {4}sleep\n {4}1000$/m);
    expect(d.stdout).toMatch(/^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/m);
    expect(d.stdout).toMatch(/^\s+Normal\s+Pulled\s+\S+\s+berth-agent\s+Pulled image busybox:1\.37$/m);

    const quiet = await berth(['describe', 'ctr/piped']);
    expectOk(quiet);
    expect(quiet.stdout).toMatch(/^Events:\s+<none>$/m);
  });

  it('follows changes with get -w', async () => {
    const child = spawn(...berthArgv(['get', 'containers', '-w', '--kubeconfig', kubeconfig]), {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await expect.poll(() => /^web\s/m.test(out), { timeout: 30_000 }).toBe(true);
      expectOk(await berth(['apply', '-f', '-'], container('watched', 'busybox:w')));
      await expect.poll(() => /^watched\s+busybox:w\s/m.test(out), { timeout: 30_000 }).toBe(true);
      expectOk(await berth(['delete', 'ctr', 'watched']));
      await expect.poll(() => out.match(/^watched\s/gm)?.length ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      expect(err).toBe('');
      expect(out.split('\n').filter((l) => l.startsWith('NAME'))).toHaveLength(1);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('deletes, waits, and reports not found the kubectl way', async () => {
    const del = await berth(['delete', 'ctr', 'piped']);
    expectOk(del);
    expect(del.stdout).toBe('container.berth.dev "piped" deleted\n');

    const gone = await berth(['get', 'ctr', 'piped']);
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim()).toBe('Error from server (NotFound): containers.berth.dev "piped" not found');

    const again = await berth(['delete', 'container', 'piped']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('Error from server (NotFound): containers.berth.dev "piped" not found');
    expectOk(await berth(['delete', 'container', 'piped', '--ignore-not-found']));

    const fromFile = await berth(['delete', '-f', join(dir, 'app.yaml')]);
    expectOk(fromFile);
    expect(fromFile.stdout).toBe('container.berth.dev "web" deleted\nvolume.berth.dev "data" deleted\n');
    const left = await berth(['get', 'ctr,vol', '-o', 'name']);
    expectOk(left);
    expect(left.stdout).toBe('volume.berth.dev/nested-vol\n');
  });

  it('waits for finalizers before reporting a deletion done, and gives up at --timeout', async () => {
    const held = container('held', 'busybox:1').replace('metadata:\n', 'metadata:\n  finalizers: ["example.com/hold"]\n');
    expectOk(await berth(['apply', '-f', '-'], held));
    const timedOut = await berth(['delete', 'ctr', 'held', '--timeout=1s']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stdout).toBe('container.berth.dev "held" deleted\n');
    expect(timedOut.stderr.trim()).toBe('error: timed out waiting for container.berth.dev "held" to be deleted');
    const still = await berth(['get', 'ctr', 'held', '-o', 'yaml']);
    expectOk(still);
    expect((parse(still.stdout) as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp).toBeTruthy();
    // Dropping the finalizer (this manager owns it) lets the deletion finish.
    expectOk(await berth(['apply', '-f', '-'], container('held', 'busybox:1')));
    const noWait = await berth(['delete', 'ctr', 'held', '--wait=false', '--ignore-not-found']);
    expectOk(noWait);
    expect((await berth(['get', 'ctr', 'held'])).code).toBe(1);
  });

  it('names the file, document and line of bad manifests and applies the good ones', async () => {
    const file = join(dir, 'mixed.yaml');
    await writeFile(
      file,
      [
        container('good', 'busybox:1'),
        'apiVersion: berth.dev/v1alpha1\nkind: Container\nmetadata:\n  name: broken\nspec:\n  image: [unclosed\n',
        container('invalid', 'busybox:1', '\n  restartPolicy: Sometimes'),
        container('strict', 'busybox:1', '\n  colour: red'),
        'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n',
      ].join('---\n'),
    );
    const r = await berth(['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('container.berth.dev/good created\n');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(document 2\\): invalid YAML at line \\d+, column \\d+: `));
    expect(r.stderr).toMatch(/^Error from server \(Invalid\): .*mixed\.yaml \(document 3\): .*spec\.restartPolicy/m);
    expect(r.stderr).toMatch(/^Error from server \(BadRequest\): .*mixed\.yaml \(document 4\): .*unknown field "spec\.colour"/m);
    expect(r.stderr).toMatch(/^error: .*mixed\.yaml \(document 5\): no matches for kind "Widget" in version "example\.com\/v1"/m);
  });

  it('gives one clear error line for unknown kinds, flags and commands', async () => {
    const kind = await berth(['get', 'widgets']);
    expect(kind.code).toBe(1);
    expect(kind.stderr.trim()).toBe('error: the server doesn\'t have a resource type "widgets"');
    const flag = await berth(['get', 'ctr', '--colour']);
    expect(flag.code).toBe(1);
    expect(flag.stderr.trim()).toBe("error: unknown flag: --colour. See 'berth get --help'.");
    const cmd = await berth(['frobnicate']);
    expect(cmd.code).toBe(1);
    expect(cmd.stderr.trim()).toMatch(/^error: unknown command "frobnicate"/);
    const missing = await berth(['apply', '-f', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`error: the path "${join(dir, 'nope.yaml')}" does not exist`);
  });
});
