/**
 * Docker's verbs as berth commands (issue 16) against a real `berth server` process (API server,
 * agent, runc): run attached and detached with Docker's exit codes, -it under a pseudo-terminal,
 * the lifecycle verbs, inspect -f, volumes, system df, events, the -o yaml --export round trip, and
 * bad input that ends with 125 and leaves no object behind.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { berthArgv } from '../helpers/berth-bin.js';
import { freePort, freePortRange } from '../helpers/free-port.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const skip = e2eSkipReason('docker verbs', ['runc', 'conmon', 'script']);
if (skip) console.warn(`skipping docker verbs e2e: ${skip}`);

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: { phase?: string; exitCode?: number };
}

describe.skipIf(!!skip)('berth run and the Docker verbs', () => {
  let dir: string;
  let server: ServerProcess;
  let registry: string;
  const cgroupParent = `berth-e2e-dverbs-${process.pid}`;
  const berth = (args: string[], input?: string) => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { timeoutMs: 90_000, env: { ...process.env, KUBECONFIG: server.kubeconfig, BERTH_CONFIG: join(dir, 'berth-config') }, ...(input !== undefined ? { input } : {}) });
  };
  const containers = async (): Promise<Obj[]> => (JSON.parse((await berth(['get', 'containers', '-o', 'json'])).stdout) as { items: Obj[] }).items;
  const volumes = async (): Promise<Obj[]> => (JSON.parse((await berth(['get', 'volumes', '-o', 'json'])).stdout) as { items: Obj[] }).items;
  const names = async () => (await containers()).map((c) => c.metadata.name).sort();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-dverbs-'));
    registry = `127.0.0.1:${await freePort()}`;
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'dverbs', '--registry-listen', registry]);
    const imp = await berth(['import', BUSYBOX_TAR, 'busybox']);
    expect(imp.code, imp.stderr).toBe(0);
  }, 120_000);

  afterAll(() => cleanUpE2eServer(server, dir, cgroupParent));

  it('berth run --rm busybox echo hi prints hi, exits 0 and leaves nothing', async () => {
    const r = await berth(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hi\n', '']);
    expect(await names()).toEqual([]);
  }, 180_000);

  it("returns the container's exit code, 127 for a command that is not there, 126 for one that cannot run", async () => {
    const three = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect([three.code, three.stdout, three.stderr]).toEqual([3, 'out\n', 'err\n']);
    const missing = await berth(['run', '--rm', 'busybox', 'nosuch']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('exec: "nosuch": executable file not found in $PATH');
    const notExecutable = await berth(['run', '--name', 'not-exec', 'busybox', '/etc']);
    expect(notExecutable.code).toBe(126);
    // a run that failed leaves no object behind
    expect(await names()).toEqual([]);
  }, 180_000);

  it('-it gives an interactive terminal: typed input reaches the shell and exit 5 is the exit code', async () => {
    // script(1) gives berth a pseudo-terminal; what it reads from its stdin is typed into it
    const [cmd, argv] = berthArgv(['run', '-it', '--rm', 'busybox', 'sh']);
    const line = [cmd, ...argv].map((a) => `'${a}'`).join(' ');
    const r = await run('script', ['-qec', line, '/dev/null'], { input: 'echo typed-$((40+2)); tty\nexit 5\n', timeoutMs: 90_000, env: { ...process.env, KUBECONFIG: server.kubeconfig } });
    expect(r.stdout).toContain('typed-42');
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(5);
    expect(await names()).toEqual([]);
  }, 180_000);

  it('Ctrl-P Ctrl-Q detaches from -it (the container goes on); Ctrl-C without a tty reaches the container as SIGINT; run -d --rm goes once it exits', async () => {
    // node-pty: the keys are typed once the shell answers (typed earlier, the terminal's own flow control would eat Ctrl-Q)
    const { spawn: spawnPty } = await import('node-pty');
    const [cmd, argv] = berthArgv(['run', '-it', '--name', 'detachme', 'busybox', 'sh']);
    const pty = spawnPty(cmd, argv, { cols: 80, rows: 24, env: { ...process.env, KUBECONFIG: server.kubeconfig } as Record<string, string> });
    let screen = '';
    pty.onData((x) => (screen += x));
    const exited = new Promise<number>((r) => pty.onExit((e) => r(e.exitCode)));
    pty.write('echo before-$((1+1))\r');
    await expect.poll(() => screen, { timeout: 60_000 }).toContain('before-2');
    pty.write('\x10\x11');
    expect(await exited).toBe(0);
    expect((await berth(['inspect', '-f', '{{.State.Status}}', 'detachme'])).stdout).toBe('running\n');
    expect((await berth(['rm', '-f', 'detachme'])).code).toBe(0);

    const { spawn } = await import('node:child_process');
    const [c2, a2] = berthArgv(['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got-int; exit 9" INT; echo ready; sleep 100 & wait']);
    const child = spawn(c2, a2, { env: { ...process.env, KUBECONFIG: server.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (x: Buffer) => (out += x.toString()));
    const code = new Promise<number | null>((r) => child.on('close', r));
    await expect.poll(() => out, { timeout: 60_000 }).toContain('ready');
    child.kill('SIGINT');
    expect(await code).toBe(9);
    expect(out).toBe('ready\ngot-int\n');

    const bg = await berth(['run', '-d', '--rm', '--name', 'gone-soon', 'busybox', 'true']);
    expect(bg.code, bg.stderr).toBe(0);
    await expect.poll(async () => names(), { timeout: 60_000, interval: 300 }).toEqual([]);
  }, 180_000);

  it('runs a detached container and drives it with inspect -f, stop, start, pause, kill, rename, wait and logs', async () => {
    const d = await berth(['run', '-d', '--name', 'web', '-l', 'app=web', '-e', 'GREETING=hello', 'busybox', 'sh', '-c', 'echo $GREETING; exec sleep 600']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const id = d.stdout.trim();
    expect((await berth(['inspect', '-f', '{{.State.Status}}', 'web'])).stdout).toBe('running\n');
    expect((await berth(['inspect', '-f', '{{.Id}} {{json .Config.Labels}}', id.slice(0, 12)])).stdout).toBe(`${id} {"app":"web"}\n`);
    // the object agrees, and says who made it
    const obj = (await containers()).find((c) => c.metadata.name === 'web')!;
    expect(obj.status?.phase).toBe('Running');
    expect(obj.metadata.labels).toMatchObject({ 'berth.dev/created-by': 'cli', app: 'web' });
    expect((await berth(['ps', '--filter', 'label=app=web', '--format', '{{.Names}} {{.Image}}'])).stdout).toBe('web busybox\n');
    expect((await berth(['logs', 'web'])).stdout).toBe('hello\n');
    // the container's stderr goes to berth logs' stderr, as docker logs does
    const both = await berth(['run', '--name', 'two-streams', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2']);
    expect(both.code, both.stderr).toBe(0);
    const split = await berth(['logs', 'two-streams']);
    expect([split.stdout, split.stderr]).toEqual(['to-out\n', 'to-err\n']);
    expect((await berth(['rm', 'two-streams'])).code).toBe(0);
    // docker exec's way: flags stop at the container, no `--` needed
    expect((await berth(['exec', '-e', 'X=1', 'web', 'sh', '-c', 'echo $GREETING-$X'])).stdout).toBe('hello-1\n');
    expect((await berth(['pause', 'web'])).code).toBe(0);
    expect((await berth(['inspect', '-f', '{{.State.Status}}', 'web'])).stdout).toBe('paused\n');
    expect((await berth(['unpause', 'web'])).code).toBe(0);
    expect((await berth(['stop', '-t', '1', 'web'])).stdout).toBe('web\n');
    expect((await berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'web'])).stdout).toMatch(/^exited (137|143)\n$/);
    expect((await berth(['start', 'web'])).code).toBe(0);
    expect((await berth(['inspect', '-f', '{{.State.Status}}', 'web'])).stdout).toBe('running\n');
    const clash = await berth(['run', '-d', '--name', 'web', 'busybox', 'true']);
    expect(clash.code).toBe(125);
    expect(clash.stderr).toContain(`The container name "/web" is already in use by container "${id}" (Container default/web)`);
    expect((await berth(['rename', 'web', 'web_renamed'])).code).toBe(0);
    expect((await berth(['ps', '--format', '{{.Names}}'])).stdout).toBe('web_renamed\n');
    const waiting = berth(['wait', 'web_renamed']);
    expect((await berth(['kill', '-s', 'KILL', 'web_renamed'])).code).toBe(0);
    expect((await waiting).stdout).toBe('137\n');
  }, 180_000);

  it('prints a manifest with -o yaml --export that berth apply -f takes unchanged', async () => {
    const y = await berth(['get', 'container', 'web', '-o', 'yaml', '--export']);
    expect(y.code, y.stderr).toBe(0);
    const manifest = parse(y.stdout) as Obj & Record<string, unknown>;
    expect(manifest.status).toBeUndefined();
    for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation', 'finalizers']) expect(manifest.metadata).not.toHaveProperty(f);
    expect(manifest.spec.nodeName).toBeUndefined();
    const file = join(dir, 'web.yaml');
    await writeFile(file, y.stdout);
    expect((await berth(['rm', '-f', 'web_renamed'])).stdout).toBe('web_renamed\n');
    expect(await names()).toEqual([]);
    const applied = await berth(['apply', '-f', file]);
    expect(applied.code, applied.stderr).toBe(0);
    const again = (await containers()).find((c) => c.metadata.name === 'web')!;
    const { nodeName: _n, ...spec } = again.spec;
    expect(spec).toEqual(manifest.spec);
    expect(again.metadata.annotations?.['berth.dev/docker-name']).toBe('web_renamed');
    // applying the same manifest again changes nothing
    expect((await berth(['apply', '-f', file])).code).toBe(0);
    expect(parse(await readFile(file, 'utf8'))).toEqual(manifest);
    expect((await berth(['rm', '-f', 'web_renamed'])).code).toBe(0);
  }, 180_000);

  it('volume create/ls/inspect/rm, a volume in use is refused, and system df counts them', async () => {
    expect((await berth(['volume', 'create', 'data'])).stdout).toBe('data\n');
    const w = await berth(['run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    expect(w.code, w.stderr).toBe(0);
    const r = await berth(['run', '--rm', '-v', 'data:/data:ro', 'busybox', 'cat', '/data/f']);
    expect(r.stdout).toBe('kept\n');
    expect((await berth(['volume', 'ls'])).stdout).toMatch(/^DRIVER\s+VOLUME NAME\nlocal\s+data\n$/);
    expect((await berth(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Scope}}', 'data'])).stdout).toBe('data local local\n');
    expect((await berth(['run', '-d', '--name', 'user', '-v', 'data:/data', 'busybox', 'sleep', '600'])).code).toBe(0);
    const inUse = await berth(['volume', 'rm', 'data']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('remove data: volume is in use - [user]');
    const df = await berth(['system', 'df']);
    expect(df.stdout).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+1\s+1\s+/);
    expect(df.stdout).toMatch(/\nContainers\s+1\s+1\s+/);
    expect(df.stdout).toMatch(/\nLocal Volumes\s+1\s+1\s+/);
    expect((await berth(['rm', '-f', 'user'])).code).toBe(0);
    expect((await berth(['volume', 'rm', 'data'])).stdout).toBe('data\n');
    expect(await volumes()).toEqual([]);
  }, 180_000);

  it('berth run and berth build pull an image the node does not have, as docker does (--pull missing|always|never)', async () => {
    const ref = `${registry}/lib/box:1`;
    expect((await berth(['tag', 'busybox', ref])).code).toBe(0);
    // the server's registry knows Berth's identities: a Berth token is the password
    const token = (await readFile(join(dir, 'data', 'auth', 'admin.token'), 'utf8')).trim();
    const login = await berth(['login', '-u', 'admin', '--password-stdin', registry], token);
    expect(login.code, login.stderr).toBe(0);
    const push = await berth(['push', ref]);
    expect(push.code, push.stderr).toBe(0);
    // the server's registry takes pushes from its node (the agent logs in as system:node:NAME), not from anyone
    const anonymous = await fetch(`http://${registry}/v2/lib/box/blobs/uploads/`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNAUTHORIZED');
    expect((await fetch(`http://${registry}/v2/lib/box/manifests/1`)).status).toBe(401);
    expect((await berth(['rmi', ref])).code).toBe(0);
    const never = await berth(['run', '--rm', '--pull', 'never', ref, 'true']);
    expect([never.code, never.stderr]).toEqual([125, `Error response from daemon: No such image: ${ref}\n`]);
    const r = await berth(['run', '--rm', ref, 'echo', 'pulled']);
    expect([r.code, r.stdout]).toEqual([0, 'pulled\n']);
    expect(r.stderr).toContain(`Unable to find image '${ref}' locally`);
    expect((await berth(['run', '--rm', '--pull', 'always', ref, 'true'])).code).toBe(0);
    // a build whose base image is missing pulls it (it used to fail: not found in the local image store)
    expect((await berth(['rmi', ref])).code).toBe(0);
    await mkdir(join(dir, 'ctx'), { recursive: true });
    await writeFile(join(dir, 'ctx', 'Dockerfile'), `FROM ${ref} AS base\nRUN echo from-base > /f\nFROM base\nCMD ["cat", "/f"]\n`);
    const b = await berth(['build', '-t', 'from-pulled:1', join(dir, 'ctx')]);
    expect(b.code, b.stderr).toBe(0);
    expect((await berth(['run', '--rm', 'from-pulled:1'])).stdout).toBe('from-base\n');
    expect(await names()).toEqual([]);
  }, 180_000);

  it('restart, attach, port, diff, export, save and load, info, and the prunes', async () => {
    expect((await berth(['run', '-d', '--name', 'r1', 'busybox', 'sh', '-c', 'echo started; touch /new-file; exec sleep 600'])).code).toBe(0);
    const before = (await berth(['inspect', '-f', '{{.State.StartedAt}}', 'r1'])).stdout;
    expect((await berth(['restart', '-t', '0', 'r1'])).stdout).toBe('r1\n');
    expect((await berth(['inspect', '-f', '{{.State.Status}}', 'r1'])).stdout).toBe('running\n');
    expect((await berth(['inspect', '-f', '{{.State.StartedAt}}', 'r1'])).stdout).not.toBe(before);
    expect((await berth(['port', 'r1'])).stdout).toBe('');
    const noPort = await berth(['port', 'r1', '80']);
    expect([noPort.code, noPort.stderr]).toEqual([1, "Error response from daemon: No public port '80/tcp' published for r1\n"]);
    expect((await berth(['diff', 'r1'])).stdout).toContain('A /new-file\n');
    const tarFile = join(dir, 'r1.tar');
    expect((await berth(['export', '-o', tarFile, 'r1'])).code).toBe(0);
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('tar', ['-tf', tarFile]).toString()).toMatch(/(^|\n)(\.\/)?new-file\n/);
    expect((await berth(['rm', '-f', 'r1'])).code).toBe(0);

    // attach to a running container: its output from now on and its exit code
    // (it ticks until the test, having seen a tick through the attach, tells it to end: no race with a timer)
    expect((await berth(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'while [ ! -f /go ]; do echo tick; sleep 0.2; done; echo late; exit 4'])).code).toBe(0);
    const { spawn } = await import('node:child_process');
    const [ac, aa] = berthArgv(['attach', '--no-stdin', 'talker']);
    const attach = spawn(ac, aa, { env: { ...process.env, KUBECONFIG: server.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    let attached = '';
    attach.stdout.on('data', (d: Buffer) => (attached += d.toString()));
    const attachCode = new Promise<number | null>((r) => attach.once('exit', (code) => r(code)));
    await expect.poll(() => attached, { timeout: 60_000, interval: 100 }).toContain('tick\n');
    expect((await berth(['exec', 'talker', 'touch', '/go'])).code).toBe(0);
    expect(await attachCode).toBe(4);
    expect(attached).toMatch(/^(tick\n)+late\n$/);
    expect((await berth(['rm', 'talker'])).code).toBe(0);

    const saved = join(dir, 'saved.tar');
    expect((await berth(['save', '-o', saved, 'busybox'])).code).toBe(0);
    expect((await berth(['tag', 'busybox', 'dangling-soon:1'])).code).toBe(0);
    expect((await berth(['rmi', 'busybox'])).code).toBe(0);
    const load = await berth(['load', '-i', saved]);
    expect([load.code, load.stdout]).toEqual([0, 'Loaded image: busybox:latest\n']);
    expect((await berth(['image', 'prune', '-a', '-f'])).stdout).toContain('untagged: dangling-soon:1');
    const left = await berth(['images', '-q']);
    expect([left.code, left.stdout]).toEqual([0, '']);
    expect((await berth(['load', '-i', saved])).code).toBe(0);

    const info = await berth(['info']);
    expect(info.stdout).toMatch(/Containers: 0\n {2}Running: 0[\s\S]*Images: 1\n[\s\S]*Name: dverbs\n/);
    expect((await berth(['run', '-v', '/scratch', '--name', 'with-anon', 'busybox', 'true'])).code).toBe(0);
    expect((await volumes()).length).toBe(1);
    const sp = await berth(['system', 'prune', '-f', '--volumes']);
    expect(sp.stdout).toContain('Deleted Containers:\nwith-anon\n');
    expect(await names()).toEqual([]);
    expect((await berth(['volume', 'prune', '-f'])).code).toBe(0);
    expect(await volumes()).toEqual([]);
  }, 180_000);

  it("replays events with --since/--until, filtered as docker's", async () => {
    const since = new Date(Date.now() - 5000).toISOString();
    expect((await berth(['run', '--name', 'evt', 'busybox', 'true'])).code).toBe(0);
    const ev = await berth(['events', '--since', since, '--until', new Date(Date.now() + 500).toISOString(), '--filter', 'container=evt', '--format', '{{.Action}}']);
    expect(ev.stdout.split('\n').filter(Boolean)).toEqual(['create', 'start', 'die']);
    expect((await berth(['rm', 'evt'])).code).toBe(0);
  }, 180_000);

  it('publishes ports: -p HOST:80 answers on 127.0.0.1, -p 80 gets a port the node picks, berth port and inspect show them', async () => {
    const hostPort = await freePort();
    const page = `served by web on ${hostPort}`;
    const httpd = ['sh', '-c', `mkdir -p /www && echo "${page}" > /www/index.html && exec httpd -f -p 80 -h /www`];
    const web = await berth(['run', '-d', '--name', 'web', '-p', `${hostPort}:80`, 'busybox', ...httpd]);
    expect(web.code, web.stderr).toBe(0);
    const fetchText = (url: string) => fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch((e: Error) => `error: ${e.message}`);
    // Running is reported when the process started; httpd listens a moment later
    await expect.poll(() => fetchText(`http://127.0.0.1:${hostPort}/`), { timeout: 30_000, interval: 200 }).toBe(`${page}\n`);
    const port = await berth(['port', 'web']);
    expect([port.code, port.stdout]).toEqual([0, `80/tcp -> 0.0.0.0:${hostPort}\n`]);
    expect((await berth(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'web'])).stdout).toBe(`{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"${hostPort}"}]}\n`);
    expect((await berth(['inspect', '-f', '{{.HostConfig.NetworkMode}} {{.NetworkSettings.Networks.bridge.IPAddress}}', 'web'])).stdout).toMatch(/^bridge 10\.250\.\d+\.\d+\n$/);
    expect((await berth(['ps', '--format', '{{.Names}} {{.Ports}}'])).stdout).toBe(`web 0.0.0.0:${hostPort}->80/tcp\n`);

    // -p 80: the node picks the host port; status, berth port and the page agree
    const picked = await berth(['run', '-d', '--name', 'web2', '-p', '80', 'busybox', ...httpd]);
    expect(picked.code, picked.stderr).toBe(0);
    const line = (await berth(['port', 'web2', '80'])).stdout;
    expect(line).toMatch(/^0\.0\.0\.0:\d+\n$/);
    const pickedPort = Number(line.trim().split(':')[1]);
    expect(pickedPort).toBeGreaterThan(0);
    await expect.poll(() => fetchText(`http://127.0.0.1:${pickedPort}/`), { timeout: 30_000, interval: 200 }).toBe(`${page}\n`);

    // -P publishes what the image EXPOSEs, on ports the node picks
    const imp = await berth(['import', '--change', 'EXPOSE 80/tcp', BUSYBOX_TAR, 'exposed:1']);
    expect(imp.code, imp.stderr).toBe(0);
    const all = await berth(['run', '-d', '--name', 'web3', '-P', 'exposed:1', ...httpd]);
    expect(all.code, all.stderr).toBe(0);
    const allLine = (await berth(['port', 'web3'])).stdout;
    expect(allLine).toMatch(/^80\/tcp -> 0\.0\.0\.0:\d+\n$/);
    await expect.poll(() => fetchText(`http://127.0.0.1:${allLine.trim().split(':')[1]}/`), { timeout: 30_000, interval: 200 }).toBe(`${page}\n`);

    // a range: host ports first..first+1 to container ports 80..81, one port each
    const first = await freePortRange(2);
    const two = ['sh', '-c', `mkdir -p /www && echo "${page}" > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www`];
    const ranged = await berth(['run', '-d', '--name', 'web4', '-p', `${first}-${first + 1}:80-81`, 'busybox', ...two]);
    expect(ranged.code, ranged.stderr).toBe(0);
    expect((await berth(['port', 'web4'])).stdout).toBe(`80/tcp -> 0.0.0.0:${first}\n81/tcp -> 0.0.0.0:${first + 1}\n`);
    for (const p of [first, first + 1]) await expect.poll(() => fetchText(`http://127.0.0.1:${p}/`), { timeout: 30_000, interval: 200 }).toBe(`${page}\n`);
    const badRange = await berth(['run', '-d', '--name', 'web5', '-p', `${first}-${first + 1}:80`, 'busybox', ...two]);
    expect([badRange.code, badRange.stderr]).toEqual([125, expect.stringContaining('a host port range for one container port is not supported by Berth')]);
    expect((await berth(['rm', '-f', 'web', 'web2', 'web3', 'web4'])).code).toBe(0);
    expect((await berth(['rmi', 'exposed:1'])).code).toBe(0);
    expect(await names()).toEqual([]);
  }, 180_000);

  it('network create/ls/inspect/rm: Docker columns, -o yaml, containers reach each other by name on it, in-use refused, bad input named', async () => {
    const made = await berth(['network', 'create', '--subnet', '10.251.201.0/24', '-l', 'team=a', 'front']);
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ls = await berth(['network', 'ls']);
    expect(ls.stdout.split('\n')[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    expect(ls.stdout).toMatch(new RegExp(`\\n${id.slice(0, 12)}\\s+front\\s+bridge\\s+local\\n`));
    expect(ls.stdout).toMatch(/\bbridge\s+bridge\s+local\n[\s\S]*\bhost\s+host\s+local\n[\s\S]*\bnone\s+null\s+local\n/);
    const yaml = parse((await berth(['network', 'ls', '-o', 'yaml', '--filter', 'name=front'])).stdout) as { Name: string; Id: string; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string> }[];
    expect(yaml.map((n) => [n.Name, n.Id, n.IPAM.Config[0], n.Labels])).toEqual([['front', id, { Subnet: '10.251.201.0/24', Gateway: '10.251.201.1' }, { team: 'a' }]]);
    expect((await berth(['get', 'network', 'front', '-o', 'json'])).stdout).toContain('"berth.dev/created-by": "cli"');
    // two containers on it: the second reaches the first by its name
    const httpd = ['sh', '-c', 'mkdir -p /www && echo front-page > /www/index.html && exec httpd -f -p 80 -h /www'];
    expect((await berth(['run', '-d', '--name', 'fweb', '--network', 'front', 'busybox', ...httpd])).code).toBe(0);
    const get = await berth(['run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', 'until wget -qO- http://fweb/; do sleep 0.2; done']);
    expect([get.code, get.stdout]).toEqual([0, 'front-page\n']);
    const ip = (await berth(['inspect', '-f', '{{.NetworkSettings.Networks.front.IPAddress}}', 'fweb'])).stdout.trim();
    expect(ip).toMatch(/^10\.251\.201\.\d+$/);
    expect((await berth(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', 'front'])).stdout).toBe(`fweb ${ip}/24\n`);
    expect((await berth(['inspect', '--type', 'network', '-f', '{{.Driver}} {{.Scope}}', 'front'])).stdout).toBe('bridge local\n');
    // a subnet another Network holds: refused once the node says so, and the new Network goes again
    const overlap = await berth(['network', 'create', '--subnet', '10.251.201.0/24', 'twin']);
    expect([overlap.code, overlap.stderr]).toEqual([1, expect.stringMatching(/^Error response from daemon: Pool overlaps with other one on this address space: spec\.subnet: 10\.251\.201\.0\/24 overlaps Network default\/front/)]);
    expect((await berth(['network', 'ls', '-q', '--filter', 'name=twin'])).stdout).toBe('');
    const inUse = await berth(['network', 'rm', 'front']);
    expect([inUse.code, inUse.stderr]).toEqual([1, `Error response from daemon: error while removing network: network front id ${id} has active endpoints (fweb)\n`]);
    expect((await berth(['rm', '-f', 'fweb'])).code).toBe(0);
    expect((await berth(['network', 'rm', 'front'])).stdout).toBe('front\n');
    const bad: Array<[string[], string]> = [
      [['network', 'create', '--subnet', '10.251.9.1/24', 'n1'], 'Error response from daemon: invalid subnet 10.251.9.1/24: must be an IPv4 CIDR block such as 10.89.0.0/24, with the host bits zero (IPAM.Config[0].Subnet)\n'],
      [['network', 'create', '-d', 'overlay', 'n1'], 'Error response from daemon: plugin "overlay" not found: Berth networks take the bridge driver (Driver)\n'],
      [['network', 'create', 'bad name'], 'Error response from daemon: Invalid network name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n'],
      [['network', 'rm', 'host'], 'Error response from daemon: host is a pre-defined network and cannot be removed\n'],
      [['network', 'inspect', 'nosuch'], 'Error response from daemon: network nosuch not found\n'],
    ];
    for (const [args, message] of bad) {
      const r = await berth(args);
      expect([args.join(' '), r.code, r.stderr]).toEqual([args.join(' '), 1, message]);
    }
    expect((await berth(['get', 'networks', '-o', 'json'])).stdout).toContain('"items": []');
  }, 180_000);

  it('logs -f ends once the container stopped, so logs -f && rm works as with docker', async () => {
    expect((await berth(['run', '-d', '--name', 'ticks', 'busybox', 'sh', '-c', 'echo a; sleep 0.3; echo b'])).code).toBe(0);
    const f = await berth(['logs', '-f', 'ticks']);
    expect([f.code, f.stdout]).toEqual([0, 'a\nb\n']);
    const rm = await berth(['rm', 'ticks']);
    expect([rm.code, rm.stderr]).toEqual([0, '']);
  }, 120_000);

  it('ends bad input with 125 and the message docker gives, leaving no object behind', async () => {
    // a host port held by a listener of this test: the run fails, and what it made on the way goes again
    const blocker = createServer();
    const held = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    try {
      const clash = await berth(['run', '-d', '-v', 'vol:/data', '--name', 'clash', '-p', `${held}:80`, 'busybox', 'sleep', '60']);
      expect([clash.code, clash.stderr]).toEqual([125, expect.stringMatching(new RegExp(`^Error response from daemon: driver failed programming external connectivity on endpoint clash: spec\\.ports\\[0\\]\\.hostPort: 0\\.0\\.0\\.0:${held}/TCP is already in use on this node`))]);
      const attached = await berth(['run', '--rm', '-p', `${held}:80`, 'busybox', 'true']);
      expect([attached.code, attached.stderr]).toEqual([125, expect.stringContaining(`0.0.0.0:${held}/TCP is already in use`)]);
    } finally {
      blocker.close();
    }
    expect(await names()).toEqual([]);
    expect(await volumes()).toEqual([]);
    const cases: Array<[string[], RegExp]> = [
      [['run', '--bogus', 'busybox'], /unknown flag: --bogus/],
      [['run', '-p', 'abc', 'busybox', 'true'], /invalid containerPort: abc/],
      [['run', '-p', '99999:80', 'busybox', 'true'], /invalid hostPort: 99999/],
      [['run', '-p', '8080:80/sctp', 'busybox', 'true'], /sctp is not supported by Berth/],
      [['run', '--network', 'none', '-p', '8080:80', 'busybox', 'true'], /conflicting options: port publishing and the container type network mode/],
      [['run', '--name', 'bad name', 'busybox', 'true'], /Invalid container name \(bad name\)/],
      [['run', '--pull', 'never', 'no/such-image:1', 'true'], /No such image: no\/such-image:1/],
      [['run', '--network', 'mynet', 'busybox', 'true'], /network mynet not found/],
      [['run', '-v', 'vol:/data', '--network', 'nosuchnet', 'busybox', 'true'], /network nosuchnet not found/],
      [['create', '--restart', 'always', '--rm', 'busybox'], /Conflicting options: --restart and --rm/],
    ];
    for (const [args, message] of cases) {
      const r = await berth(args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 125]);
      expect(r.stderr).toMatch(message);
    }
    // the unknown network is found out before anything is made
    expect(await names()).toEqual([]);
    expect(await volumes()).toEqual([]);
    const rm = await berth(['rm', 'nosuch']);
    expect([rm.code, rm.stderr]).toEqual([1, 'Error response from daemon: No such container: nosuch\n']);
  }, 180_000);
});
