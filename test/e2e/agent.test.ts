/**
 * The quick start, end to end: a real `berth server` process (API, controllers, agent on real
 * runc) driven by real kubectl and the berth CLI, with the manifests in manifests/examples.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { berthArgv, ROOT } from '../helpers/berth-bin.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { freePort } from '../helpers/free-port.js';

const EXAMPLES = join(ROOT, 'manifests/examples');

const skip = e2eSkipReason('agent', ['runc', 'conmon', 'kubectl']);
if (skip) console.warn(`skipping agent e2e: ${skip}`);

const POLL = { timeout: 60_000, interval: 250 };


describe.skipIf(!!skip)('berth server with kubectl: examples become running containers', () => {
  let dir: string;
  let server: ServerProcess;
  const cgroupParent = `berth-e2e-${process.pid}`;
  const kc = (...args: string[]) => run('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { timeoutMs: 90_000 });
  const berth = (command: string, ...args: string[]) => {
    const [cmd, argv] = berthArgv([command, '--kubeconfig', server.kubeconfig, ...args]);
    return run(cmd, argv, { timeoutMs: 60_000 });
  };
  const jsonpath = async (kind: string, name: string, path: string, ns = 'default') => (await kc('get', '-n', ns, kind, name, '-o', `jsonpath={${path}}`)).stdout;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-agent-'));
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'e2e-node']);
  });

  afterAll(() => cleanUpE2eServer(server, dir, cgroupParent));

  it('applies the examples; each reaches its phase; httpd serves from its volume', async () => {
    const applied = await kc('apply', '-f', EXAMPLES);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    await expect.poll(() => jsonpath('image', 'busybox', '.status.phase'), POLL).toBe('Ready');
    await expect.poll(() => jsonpath('volume', 'site', '.status.phase', 'web'), POLL).toBe('Ready');
    await expect.poll(() => jsonpath('container', 'hello', '.status.phase'), POLL).toBe('Running');
    await expect.poll(() => jsonpath('container', 'httpd', '.status.phase', 'web'), POLL).toBe('Running');
    await expect.poll(() => jsonpath('container', 'once', '.status.reason'), POLL).toBe('Completed');
    expect(await jsonpath('container', 'once', '.status.phase')).toBe('Exited');
    await expect.poll(() => fetch('http://127.0.0.1:18080/').then((r) => r.text()).catch(() => ''), POLL).toContain('served by berth');
    const table = await kc('get', 'containers');
    expect(table.stdout).toMatch(/hello\s+busybox:latest\s+Running\s+0\s+e2e-node/);
    const node = await kc('get', 'nodes');
    expect(node.stdout).toMatch(/e2e-node\s+True/);
  });

  it('shows logs, exec exit codes, ps and describe with events', async () => {
    await expect.poll(async () => (await berth('logs', 'hello')).stdout, POLL).toBe('hello from berth\n');
    expect((await berth('logs', '--tail', '2', 'once')).stdout).toBe('3\ndone\n');
    const ex = await berth('exec', 'hello', '--', 'sh', '-c', 'echo inside; exit 3');
    expect(ex).toMatchObject({ code: 3, stdout: 'inside\n' });
    const ps = await berth('ps', '-a');
    expect(ps.stdout).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/);
    expect(ps.stdout).toMatch(/Exited \(0\).*once/);
    expect(ps.stdout).toMatch(/Up .*hello/);
    expect((await berth('top', '-n', 'web', 'httpd')).stdout).toMatch(/httpd -f -v -p 127\.0\.0\.1:18080/);
    expect((await berth('stats', 'hello')).stdout).toMatch(/^CONTAINER ID\s+NAME\s+CPU TIME\s+MEM USAGE \/ LIMIT\s+MEM %\s+PIDS\n[a-f0-9]{12}\s+hello\s/);
    // cp out and in, through the API and the agent
    const out = join(dir, 'passwd');
    expect((await berth('cp', 'hello:/etc/passwd', out)).code).toBe(0);
    expect(await readFile(out, 'utf8')).toMatch(/^root:x:0:0:/);
    await writeFile(join(dir, 'extra.html'), 'copied in\n');
    expect((await berth('cp', '-n', 'web', join(dir, 'extra.html'), 'httpd:/www')).code).toBe(0);
    await expect.poll(() => fetch('http://127.0.0.1:18080/extra.html').then((r) => r.text()).catch(() => ''), POLL).toBe('copied in\n');
    const described = await kc('describe', 'container', 'hello');
    expect(described.stdout).toMatch(/Started\s+.*Started container hello/);
  });

  it('cp out: a 6755 file owned by 4242 arrives without setuid/setgid and owned by the caller; -a keeps both (issue 17, finding 13)', async () => {
    const made = await berth('exec', 'hello', '--', 'sh', '-c', 'mkdir -p /tmp/cpdir && echo suid > /tmp/cpdir/tool && chown 4242:4242 /tmp/cpdir/tool && chmod 6755 /tmp/cpdir/tool');
    expect(made.code).toBe(0);
    const plain = join(dir, 'tool-plain');
    expect((await berth('cp', 'hello:/tmp/cpdir/tool', plain)).code).toBe(0);
    const st = await stat(plain);
    expect((st.mode & 0o7777).toString(8)).toBe('755');
    expect([st.uid, st.gid]).toEqual([process.getuid!(), process.getgid!()]);
    // a directory too: its files lose the bits as well
    const tree = join(dir, 'tree-plain');
    expect((await berth('cp', 'hello:/tmp/cpdir', tree)).code).toBe(0);
    expect(((await stat(join(tree, 'tool'))).mode & 0o7777).toString(8)).toBe('755');
    const kept = join(dir, 'tool-archive');
    expect((await berth('cp', '-a', 'hello:/tmp/cpdir/tool', kept)).code).toBe(0);
    const ka = await stat(kept);
    expect((ka.mode & 0o7777).toString(8)).toBe('6755');
    expect([ka.uid, ka.gid]).toEqual([4242, 4242]);
  });

  it('serves metrics that promtool accepts and a real Prometheus scrapes (containers by phase)', async () => {
    const text = await (await server.api('/metrics')).text();
    expect(text).toContain('container_memory_working_set_bytes{');
    const hasProm = (() => {
      try {
        execFileSync('sh', ['-c', 'command -v promtool && command -v prometheus']);
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasProm) {
      console.warn('promtool/prometheus missing (Debian package prometheus; run scripts/setup): metrics format checks skipped');
      return;
    }
    const checked = await run('promtool', ['check', 'metrics'], { input: text });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.code).toBe(0);

    const cfgDir = join(dir, 'prometheus');
    await mkdir(cfgDir, { recursive: true });
    const kubeconfig = parse(await readFile(server.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    await writeFile(join(cfgDir, 'ca.pem'), Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data']!, 'base64'));
    const target = new URL(server.url).host;
    await writeFile(
      join(cfgDir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s }',
        'scrape_configs:',
        '  - job_name: berth',
        '    scheme: https',
        `    tls_config: { ca_file: ${join(cfgDir, 'ca.pem')} }`,
        `    authorization: { credentials: ${server.token} }`,
        `    static_configs: [ { targets: ['${target}'] } ]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const prom = spawn('prometheus', [`--config.file=${join(cfgDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(cfgDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      const query = async (q: string): Promise<number> => {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
        if (!res?.ok) return -1;
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        return Number(body.data.result[0]?.value[1] ?? -1);
      };
      await expect.poll(() => query('berth_containers{phase="Running"}'), { timeout: 60_000, interval: 500 }).toBe(2);
      await expect.poll(() => query('count(container_cpu_usage_seconds_total{namespace=~"default|web"})'), { timeout: 30_000, interval: 500 }).toBe(2);
    } finally {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
  });

  it('a second apply of the same manifests changes nothing', async () => {
    const before = await kc('get', 'containers', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.containerID}/{.status.pid}/{.status.restartCount};{end}');
    const again = await kc('apply', '-f', EXAMPLES);
    expect(again.stdout.split('\n').filter(Boolean).every((l) => l.endsWith(' unchanged'))).toBe(true);
    const after = await kc('get', 'containers', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.containerID}/{.status.pid}/{.status.restartCount};{end}');
    expect(after.stdout).toBe(before.stdout);
  });

  it('recreates on a command change, freezes on Paused, and deletes everything cleanly', async () => {
    const oldId = await jsonpath('container', 'hello', '.status.containerID');
    await kc('patch', 'container', 'hello', '--type', 'merge', '-p', JSON.stringify({ spec: { command: ['sh', '-c', 'echo changed; exec sleep 3600'], stopGracePeriodSeconds: 1 } }));
    await expect
      .poll(async () => {
        const id = await jsonpath('container', 'hello', '.status.containerID');
        return id !== oldId && (await jsonpath('container', 'hello', '.status.phase')) === 'Running';
      }, POLL)
      .toBe(true);
    await expect.poll(async () => (await berth('logs', 'hello')).stdout, POLL).toBe('changed\n');

    await kc('patch', '-n', 'web', 'container', 'httpd', '--type', 'merge', '-p', '{"spec":{"state":"Paused"}}');
    await expect.poll(() => jsonpath('container', 'httpd', '.status.phase', 'web'), POLL).toBe('Paused');
    const id = await jsonpath('container', 'httpd', '.status.containerID', 'web');
    const v1 = join('/sys/fs/cgroup/freezer', cgroupParent, id, 'freezer.state');
    const state = existsSync(v1) ? (await readFile(v1, 'utf8')).trim() : (await readFile(join('/sys/fs/cgroup', cgroupParent, id, 'cgroup.freeze'), 'utf8')).trim() === '1' ? 'FROZEN' : 'THAWED';
    expect(state).toBe('FROZEN');

    const del = await kc('delete', '-f', EXAMPLES, '--timeout=120s');
    expect(del.code).toBe(0);
    expect((await kc('get', 'containers,volumes', '-A', '-o', 'name')).stdout).toBe('');
    const runtimeDir = join(dir, 'data', 'runtime');
    expect(await readdir(join(runtimeDir, 'containers')).catch(() => [])).toEqual([]);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(runtimeDir));
    expect(mounts).toEqual([]);
    const cgroups = (await readdir(join('/sys/fs/cgroup/memory', cgroupParent)).catch(() => [] as string[])).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(cgroups).toEqual([]);
  });
});
