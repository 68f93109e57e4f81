/**
 * The Docker Engine API on Berth (issue 16): a real `berth server --docker-socket` process driven by
 * the real docker CLI (DOCKER_HOST=unix://...), dockerode and docker-compose v1, each result checked
 * against the Berth objects (`berth get`), and bad requests answered with Docker's messages and
 * codes, nothing half-made.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthArgv } from '../helpers/berth-bin.js';
import { busyboxDockerArchive } from '../helpers/docker-archive.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { e2eSkipReason } from '../helpers/e2e-skip.js';
import { freePort } from '../helpers/free-port.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const skip = e2eSkipReason('Docker API', ['runc', 'conmon', 'docker', 'script']);
if (skip) console.warn(`skipping Docker API e2e: ${skip}`);
const hasCompose = spawnSync('sh', ['-c', 'command -v docker-compose']).status === 0;
const hasDockerode = (() => {
  try {
    createRequire(import.meta.url).resolve('dockerode');
    return true;
  } catch {
    return false;
  }
})();
if (!hasDockerode) console.warn('dockerode is not installed (npm devDependency): its test is skipped');

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The part of dockerode this test uses (typed here so that @types/dockerode is not needed). */
interface DockerodeStream extends NodeJS.ReadableStream {
  on(event: string, cb: (...a: unknown[]) => void): this;
}
interface DockerodeContainer {
  modem: { demuxStream(s: DockerodeStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void };
  attach(o: Record<string, unknown>): Promise<DockerodeStream>;
  wait(o?: Record<string, unknown>): Promise<unknown>;
  start(): Promise<unknown>;
  logs(o: Record<string, unknown>): Promise<unknown>;
  remove(o?: Record<string, unknown>): Promise<unknown>;
  exec(o: Record<string, unknown>): Promise<{ start(o: Record<string, unknown>): Promise<DockerodeStream>; inspect(): Promise<{ ExitCode: number | null }> }>;
}
type DockerodeClass = new (o: { socketPath: string }) => { createContainer(o: Record<string, unknown>): Promise<DockerodeContainer> };

/** One raw request on the socket: what no docker client would send. */
function raw(socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(!!skip)('the Docker Engine API on a Berth socket', () => {
  let dir: string;
  let server: ServerProcess;
  let sock: string;
  let registry: string;
  const cgroupParent = `berth-e2e-dapi-${process.pid}`;
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${sock}`, KUBECONFIG: server.kubeconfig, DOCKER_CONFIG: join(dir, 'docker-config') });
  const docker = (args: string[], input?: string) => run('docker', args, { timeoutMs: 120_000, env: env(), cwd: dir, ...(input !== undefined ? { input } : {}) });
  const berth = (args: string[]) => {
    const [cmd, argv] = berthArgv(args);
    return run(cmd, argv, { timeoutMs: 90_000, env: env() });
  };
  const objects = async (kind: string): Promise<Obj[]> => (JSON.parse((await berth(['get', kind, '-o', 'json'])).stdout) as { items: Obj[] }).items;
  const object = async (kind: string, name: string): Promise<Obj | undefined> => (await objects(kind)).find((o) => o.metadata.name === name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-dapi-'));
    await mkdir(join(dir, 'docker-config'));
    sock = join(dir, 'docker.sock');
    const port = await freePort();
    registry = `127.0.0.1:${port}`;
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'dapi', '--registry-listen', registry, '--docker-socket', sock]);
    for (let i = 0; i < 100 && !(await raw(sock, 'GET', '/_ping').catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
    const archive = await busyboxDockerArchive(dir);
    const load = await docker(['load', '-i', archive]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain('busybox:latest');
  }, 120_000);

  afterAll(() => cleanUpE2eServer(server, dir, cgroupParent));

  it('answers version, info, ping headers and the socket mode', async () => {
    const v = await docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}']);
    expect(v.stdout).toBe('1.50 1.41 linux\n');
    const info = await docker(['info', '--format', '{{.Name}} {{.Driver}} {{.ContainersRunning}}']);
    expect(info.stdout).toBe('dapi overlay2 0\n');
    const ping = await raw(sock, 'HEAD', '/_ping');
    expect([ping.status, ping.headers['api-version'], ping.headers['builder-version']]).toEqual([200, '1.50', '1']);
    const { statSync } = await import('node:fs');
    expect(statSync(sock).mode & 0o777).toBe(0o660);
  }, 180_000);

  it('runs containers as the docker CLI does: run --rm, run -d, logs -f, exec, ps, inspect, stop, rm -f', async () => {
    const hi = await docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect([hi.code, hi.stdout]).toEqual([0, 'hi\n']);
    expect((await docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code).toBe(3);
    const missing = await docker(['run', '--rm', 'busybox', 'nosuch']);
    expect(missing.code).toBe(127);
    expect(await objects('containers')).toEqual([]);

    const d = await docker(['run', '-d', '--name', 'api-web', '-l', 'tier=front', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; echo warn$i >&2; done; exec sleep 600']);
    expect(d.code, d.stderr).toBe(0);
    const id = d.stdout.trim();
    const obj = (await object('containers', 'api-web'))!;
    expect(obj.metadata.labels).toMatchObject({ 'berth.dev/created-by': 'docker-api', tier: 'front' });
    expect(obj.status?.phase).toBe('Running');
    expect((await docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}'])).stdout).toMatch(new RegExp(`^${id.slice(0, 12)} api-web Up `));
    expect((await docker(['inspect', '-f', '{{.State.Status}} {{.Name}} {{index .Config.Labels "tier"}}', 'api-web'])).stdout).toBe('running /api-web front\n');
    // stdout and stderr apart, as dockerd's multiplexed log stream; --tail counts both, as dockerd's
    const logs = await docker(['logs', 'api-web']);
    expect([logs.stdout, logs.stderr]).toEqual(['line1\nline2\nline3\n', 'warn1\nwarn2\nwarn3\n']);
    // (conmon reads the two pipes apart, so how the streams interleave is not fixed: the last 3 lines are,
    // per stream, the end of what it wrote)
    const tailed = await docker(['logs', '--tail', '3', 'api-web']);
    const outTail = tailed.stdout.split('\n').filter(Boolean);
    const errTail = tailed.stderr.split('\n').filter(Boolean);
    expect(outTail.length + errTail.length).toBe(3);
    expect(outTail).toEqual(['line1', 'line2', 'line3'].slice(3 - outTail.length));
    expect(errTail).toEqual(['warn1', 'warn2', 'warn3'].slice(3 - errTail.length));
    const ex = await docker(['exec', 'api-web', 'sh', '-c', 'echo in-exec; echo err >&2; exit 4']);
    expect([ex.code, ex.stdout, ex.stderr]).toEqual([4, 'in-exec\n', 'err\n']);
    const exIn = await docker(['exec', '-i', 'api-web', 'cat'], 'piped\n');
    expect(exIn.stdout).toBe('piped\n');
    expect((await docker(['stop', '-t', '1', 'api-web'])).stdout).toBe('api-web\n');
    expect((await object('containers', 'api-web'))!.status?.phase).toBe('Exited');
    expect((await docker(['start', 'api-web'])).code).toBe(0);
    expect((await docker(['rm', '-f', 'api-web'])).stdout).toBe('api-web\n');
    expect(await object('containers', 'api-web')).toBeUndefined();
  }, 180_000);

  it('restart, kill, pause, unpause, rename, wait, top, diff, export, stats, port and events through the socket', async () => {
    const since = Math.floor(Date.now() / 1000) - 5;
    expect((await docker(['run', '-d', '--name', 'life', 'busybox', 'sh', '-c', 'touch /made; exec sleep 600'])).code).toBe(0);
    expect((await docker(['restart', '-t', '0', 'life'])).stdout).toBe('life\n');
    expect((await docker(['pause', 'life'])).code).toBe(0);
    expect((await object('containers', 'life'))!.status?.phase).toBe('Paused');
    expect((await docker(['unpause', 'life'])).code).toBe(0);
    expect((await docker(['top', 'life'])).stdout).toMatch(/^UID\s+PID\s+PPID[\s\S]*sleep 600/);
    expect((await docker(['diff', 'life'])).stdout).toContain('A /made');
    const tar = await run('sh', ['-c', 'docker export life | tar -t'], { env: env() });
    expect(tar.stdout).toMatch(/(^|\n)made\n/);
    expect((await docker(['stats', '--no-stream', '--format', '{{.Name}}', 'life'])).stdout).toBe('life\n');
    expect((await docker(['port', 'life'])).stdout).toBe('');
    expect((await docker(['rename', 'life', 'life_2'])).code).toBe(0);
    expect((await object('containers', 'life'))!.metadata.annotations?.['berth.dev/docker-name']).toBe('life_2');
    const waiting = docker(['wait', 'life_2']);
    expect((await docker(['kill', 'life_2'])).code).toBe(0);
    expect((await waiting).stdout).toBe('137\n');
    const ev = await docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=life_2', '--format', '{{.Action}}']);
    expect(ev.stdout.split('\n').filter(Boolean)).toEqual(expect.arrayContaining(['create', 'start', 'die']));
    expect((await docker(['rm', 'life_2'])).code).toBe(0);
    // a container the node would restart is removed by rm -f too (no kill and restart race)
    expect((await docker(['run', '-d', '--restart', 'always', '--name', 'again', 'busybox', 'sleep', '600'])).code).toBe(0);
    expect((await object('containers', 'again'))!.spec.restartPolicy).toBe('Always');
    expect((await docker(['rm', '-f', 'again'])).stdout).toBe('again\n');
    expect(await object('containers', 'again')).toBeUndefined();
  }, 180_000);

  it('follows logs to the end with logs -f', async () => {
    expect((await docker(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick$i; sleep 0.3; done'])).code).toBe(0);
    const f = await docker(['logs', '-f', 'ticker']);
    expect(f.stdout).toBe('tick1\ntick2\ntick3\n');
    expect((await docker(['rm', 'ticker'])).code).toBe(0);
  }, 180_000);

  it('exec -it and run -it under a pseudo-terminal, and docker cp both ways', async () => {
    expect((await docker(['run', '-d', '--name', 'box', 'busybox', 'sleep', '600'])).code).toBe(0);
    const it1 = await run('script', ['-qec', `docker exec -it box sh -c 'tty; read x; echo got-$x; exit 6'`, '/dev/null'], { input: 'abc\n', env: env(), timeoutMs: 60_000 });
    expect(it1.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(it1.stdout).toContain('got-abc');
    expect(it1.code).toBe(6);
    const it2 = await run('script', ['-qec', `docker run -it --rm busybox sh -c 'read x; echo typed-$x; exit 5'`, '/dev/null'], { input: 'xyz\n', env: env(), timeoutMs: 60_000 });
    expect(it2.stdout).toContain('typed-xyz');
    expect(it2.code).toBe(5);
    await writeFile(join(dir, 'in.txt'), 'copied in\n');
    expect((await docker(['cp', join(dir, 'in.txt'), 'box:/tmp/'])).code).toBe(0);
    expect((await docker(['exec', 'box', 'cat', '/tmp/in.txt'])).stdout).toBe('copied in\n');
    expect((await docker(['exec', 'box', 'sh', '-c', 'echo made inside > /tmp/out.txt'])).code).toBe(0);
    expect((await docker(['cp', 'box:/tmp/out.txt', join(dir, 'out.txt')])).code).toBe(0);
    expect(await readFile(join(dir, 'out.txt'), 'utf8')).toBe('made inside\n');
    expect((await docker(['rm', '-f', 'box'])).code).toBe(0);
  }, 180_000);

  it('volumes, images, tag, push to the Berth registry, pull, build of a two-step Dockerfile, system df', async () => {
    expect((await docker(['volume', 'create', 'api_vol'])).stdout).toBe('api_vol\n');
    expect((await docker(['volume', 'ls', '--format', '{{.Name}}'])).stdout).toBe('api_vol\n');
    const vol = (await objects('volumes'))[0]!;
    expect(vol.metadata.annotations?.['berth.dev/docker-name']).toBe('api_vol');
    expect(vol.metadata.labels?.['berth.dev/created-by']).toBe('docker-api');
    expect((await docker(['volume', 'rm', 'api_vol'])).stdout).toBe('api_vol\n');
    expect(await objects('volumes')).toEqual([]);

    const ref = `${registry}/team/busybox:pushed`;
    expect((await docker(['tag', 'busybox', ref])).code).toBe(0);
    // the server's registry knows Berth's identities: a Berth token is the password
    const token = (await readFile(join(dir, 'data', 'auth', 'admin.token'), 'utf8')).trim();
    const login = await docker(['login', '-u', 'admin', '--password-stdin', registry], token);
    expect(login.code, login.stderr).toBe(0);
    const push = await docker(['push', ref]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/pushed: digest: sha256:[0-9a-f]{64}/);
    expect((await docker(['rmi', ref])).code).toBe(0);
    const pull = await docker(['pull', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    expect((await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n')).toContain(`${registry}/team/busybox:pushed`);

    await mkdir(join(dir, 'ctx'), { recursive: true });
    await writeFile(join(dir, 'ctx', 'Dockerfile'), 'FROM busybox\nRUN echo step-two > /made.txt\nEXPOSE 8081/tcp\nCMD ["cat", "/made.txt"]\n');
    const b = await docker(['build', '-t', 'built:1', join(dir, 'ctx')]);
    expect(b.code, b.stderr).toBe(0);
    expect((await docker(['run', '--rm', 'built:1'])).stdout).toBe('step-two\n');
    // -P publishes the image's EXPOSE on a port the node picks
    expect((await docker(['run', '-d', '-P', '--name', 'exposed', 'built:1', 'sleep', '600'])).code).toBe(0);
    expect((await docker(['port', 'exposed'])).stdout).toMatch(/^8081\/tcp -> 0\.0\.0\.0:\d+\n/);
    expect((await docker(['rm', '-f', 'exposed'])).code).toBe(0);
    // a base image the node does not have is pulled first, as dockerd's builder does
    expect((await docker(['rmi', ref])).code).toBe(0);
    await writeFile(join(dir, 'ctx', 'Dockerfile.pulled'), `FROM ${ref}\nCMD ["echo", "on-pulled-base"]\n`);
    const bp = await docker(['build', '-t', 'built:2', '-f', join(dir, 'ctx', 'Dockerfile.pulled'), join(dir, 'ctx')]);
    expect(bp.code, bp.stderr).toBe(0);
    expect(bp.stdout).toContain(`Pulled base image ${ref}`);
    expect((await docker(['run', '--rm', 'built:2'])).stdout).toBe('on-pulled-base\n');
    const df = await docker(['system', 'df']);
    expect(df.stdout).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+/);
    expect((await docker(['ps', '-a', '-q'])).stdout).toBe('');
  }, 180_000);

  it.skipIf(!hasDockerode)('dockerode: create, attach, start, wait, logs, exec, remove', async () => {
    // a specifier in a variable: the test typechecks without @types/dockerode
    const name = 'dockerode';
    const Docker = ((await import(name)) as { default: DockerodeClass }).default;
    const d = new Docker({ socketPath: sock });
    const c = await d.createContainer({ Image: 'busybox', name: 'dockerode-1', Cmd: ['sh', '-c', 'echo from-dockerode; echo oops >&2; exit 7'], AttachStdout: true, AttachStderr: true });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
    let out = '';
    let err = '';
    const { PassThrough } = await import('node:stream');
    const o = new PassThrough().on('data', (x: Buffer) => (out += x.toString()));
    const e = new PassThrough().on('data', (x: Buffer) => (err += x.toString()));
    c.modem.demuxStream(stream, o, e);
    const ended = new Promise((r) => stream.on('end', r));
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    expect(await waited).toEqual({ StatusCode: 7, Error: null });
    await ended;
    expect([out, err]).toEqual(['from-dockerode\n', 'oops\n']);
    const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const lo = new PassThrough();
    const le = new PassThrough();
    let lout = '';
    let lerr = '';
    lo.on('data', (x: Buffer) => (lout += x.toString()));
    le.on('data', (x: Buffer) => (lerr += x.toString()));
    const { Readable } = await import('node:stream');
    const src = Readable.from([logs]);
    const srcEnded = new Promise((r) => src.on('end', r));
    c.modem.demuxStream(src, lo, le);
    await srcEnded;
    expect([lout, lerr]).toEqual(['from-dockerode\n', 'oops\n']);
    const onlyErr = (await c.logs({ stdout: false, stderr: true, follow: false })) as unknown as Buffer;
    // one frame, on stream 2 (stderr), 8-byte header then the line
    expect([onlyErr[0], onlyErr.subarray(8).toString()]).toEqual([2, 'oops\n']);
    await c.remove();
    expect(await object('containers', 'dockerode-1')).toBeUndefined();

    const s = await d.createContainer({ Image: 'busybox', name: 'dockerode-2', Cmd: ['sleep', '600'] });
    await s.start();
    const ex = await s.exec({ Cmd: ['sh', '-c', 'echo exec-out; exit 2'], AttachStdout: true, AttachStderr: true });
    const es = await ex.start({ hijack: true, stdin: false });
    let exOut = '';
    s.modem.demuxStream(es, new PassThrough().on('data', (x: Buffer) => (exOut += x.toString())), new PassThrough());
    await new Promise((r) => es.on('end', r));
    expect(exOut).toBe('exec-out\n');
    expect((await ex.inspect()).ExitCode).toBe(2);
    await s.remove({ force: true });
    expect(await objects('containers')).toEqual([]);
  }, 180_000);

  it('networks through the socket: network create/ls/inspect/rm, run -p and --network with an alias, inspect NetworkSettings, in-use refused', async () => {
    const made = await docker(['network', 'create', '--subnet', '10.251.200.0/24', '--label', 'team=web', 'api_net']);
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const obj = (await objects('networks')).find((n) => n.metadata.annotations?.['berth.dev/docker-name'] === 'api_net')!;
    expect(obj.metadata.labels).toMatchObject({ 'berth.dev/created-by': 'docker-api', team: 'web' });
    expect(obj.spec).toMatchObject({ subnet: '10.251.200.0/24' });
    const ls = await docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
    expect(ls.stdout.split('\n').filter(Boolean).sort()).toEqual(['api_net bridge local', 'bridge bridge local', 'host host local', 'none null local']);
    expect((await docker(['network', 'ls', '-q', '--filter', 'label=team=web'])).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect((await docker(['network', 'inspect', '-f', '{{.Id}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', 'api_net'])).stdout).toBe(`${id} 10.251.200.0/24 10.251.200.1\n`);
    const dup = await docker(['network', 'create', 'api_net']);
    expect([dup.code, dup.stderr]).toEqual([1, 'Error response from daemon: network with name api_net already exists\n']);

    const hostPort = await freePort();
    const httpd = ['sh', '-c', 'mkdir -p /www && echo net-page > /www/index.html && exec httpd -f -p 80 -h /www'];
    const web = await docker(['run', '-d', '--name', 'netweb', '--network', 'api_net', '--network-alias', 'www', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', ...httpd]);
    expect(web.code, web.stderr).toBe(0);
    const fetchText = (url: string) => fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch((e: Error) => `error: ${e.message}`);
    await expect.poll(() => fetchText(`http://127.0.0.1:${hostPort}/`), { timeout: 30_000, interval: 200 }).toBe('net-page\n');
    expect((await docker(['port', 'netweb'])).stdout).toBe(`80/tcp -> 127.0.0.1:${hostPort}\n`);
    const ip = (await docker(['inspect', '-f', '{{.NetworkSettings.Networks.api_net.IPAddress}} {{.HostConfig.NetworkMode}}', 'netweb'])).stdout;
    expect(ip).toMatch(/^10\.251\.200\.\d+ api_net\n$/);
    // a second container on the network reaches the first by its alias, through the node's DNS
    const client = await docker(['run', '--rm', '--network', 'api_net', 'busybox', 'wget', '-qO-', 'http://www/']);
    expect([client.code, client.stdout]).toEqual([0, 'net-page\n']);
    const members = await docker(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', 'api_net']);
    expect(members.stdout).toBe(`netweb ${ip.split(' ')[0]}/24\n`);
    expect((await berth(['network', 'ls'])).stdout).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n[\s\S]*\bapi_net\s+bridge\s+local\n/);

    // network connect/disconnect of the running container: in place (same process), reached on the new
    // network by name and alias, gone from it after the disconnect; its first network is not left
    expect((await docker(['network', 'create', '--subnet', '10.251.199.0/24', 'api_back'])).code).toBe(0);
    const pidBefore = (await docker(['inspect', '-f', '{{.State.Pid}}', 'netweb'])).stdout;
    const joined = await docker(['network', 'connect', '--alias', 'back-www', 'api_back', 'netweb']);
    expect(joined.code, joined.stderr).toBe(0);
    expect((await docker(['inspect', '-f', '{{.State.Pid}}', 'netweb'])).stdout).toBe(pidBefore);
    const backIp = (await docker(['inspect', '-f', '{{.NetworkSettings.Networks.api_back.IPAddress}}', 'netweb'])).stdout.trim();
    expect(backIp).toMatch(/^10\.251\.199\.\d+$/);
    expect((await docker(['exec', 'netweb', 'ip', '-o', '-4', 'addr', 'show', 'eth1'])).stdout).toContain(`inet ${backIp}/24`);
    const viaBack = await docker(['run', '--rm', '--network', 'api_back', 'busybox', 'wget', '-qO-', 'http://back-www/']);
    expect([viaBack.code, viaBack.stdout]).toEqual([0, 'net-page\n']);
    const left = await docker(['network', 'disconnect', 'api_back', 'netweb']);
    expect(left.code, left.stderr).toBe(0);
    expect((await docker(['inspect', '-f', '{{.State.Pid}} {{len .NetworkSettings.Networks}}', 'netweb'])).stdout).toBe(`${pidBefore.trim()} 1\n`);
    expect((await docker(['exec', 'netweb', 'ip', '-o', 'link'])).stdout).not.toContain('eth1');
    const gone = await docker(['run', '--rm', '--network', 'api_back', 'busybox', 'nslookup', 'back-www']);
    expect(gone.code).not.toBe(0);
    const first = await docker(['network', 'disconnect', 'api_net', 'netweb']);
    expect([first.code, first.stderr]).toEqual([1, expect.stringContaining('is its first network (eth0, with its published ports), which needs a new container; stop it first')]);
    expect((await docker(['network', 'rm', 'api_back'])).code).toBe(0);

    const inUse = await docker(['network', 'rm', 'api_net']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain(`error while removing network: network api_net id ${id} has active endpoints`);
    const builtin = await docker(['network', 'rm', 'bridge']);
    expect(builtin.code).toBe(1);
    expect(builtin.stderr).toContain('Error response from daemon: bridge is a pre-defined network and cannot be removed\n');
    expect((await docker(['rm', '-f', 'netweb'])).code).toBe(0);
    expect((await docker(['network', 'rm', 'api_net'])).stdout).toBe('api_net\n');
    expect(await objects('networks')).toEqual([]);
    // prune takes the unused networks made by docker's verbs
    expect((await docker(['network', 'create', 'spare'])).code).toBe(0);
    expect((await docker(['network', 'prune', '-f'])).stdout).toBe('Deleted Networks:\nspare\n\n');
    expect(await objects('networks')).toEqual([]);
  }, 180_000);

  it.skipIf(!hasCompose)('docker-compose v1: up -d, ps, logs, down -v of two services on a project network sharing a named volume', async () => {
    const project = join(dir, 'compose');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, 'docker-compose.yml'),
      [
        "version: '2.4'",
        'services:',
        '  web:',
        '    image: busybox',
        '    networks: [back]',
        '    stop_grace_period: 1s',
        '    command: ["sh", "-c", "echo hello-from-web > /data/index.html; echo web-up; exec httpd -f -p 80 -h /data"]',
        '    volumes: ["shared:/data"]',
        '  reader:',
        '    image: busybox',
        '    networks: [back]',
        '    depends_on: [web]',
        '    stop_grace_period: 1s',
        '    command: ["sh", "-c", "until wget -qO /tmp/page http://web/; do sleep 0.2; done; cat /tmp/page; exec sleep 600"]',
        'networks:',
        '  back: {}',
        'volumes:',
        '  shared: {}',
        '',
      ].join('\n'),
    );
    const compose = (args: string[]) => run('docker-compose', ['-p', 'demo', ...args], { cwd: project, env: env(), timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    const ps = await compose(['ps']);
    expect(ps.stdout).toMatch(/demo_web_1\s.*Up/);
    expect(ps.stdout).toMatch(/demo_reader_1\s.*Up/);
    // the objects agree: two Containers on the project's Network, and the Volume, with compose's labels
    const ctrs = (await objects('containers')).filter((c) => c.metadata.annotations?.['berth.dev/docker-name']?.startsWith('demo_'));
    expect(ctrs.map((c) => c.metadata.annotations!['berth.dev/docker-name']).sort()).toEqual(['demo_reader_1', 'demo_web_1']);
    expect(ctrs.every((c) => c.metadata.labels?.['com.docker.compose.project'] === 'demo')).toBe(true);
    const nets = await objects('networks');
    expect(nets.map((n) => n.metadata.annotations?.['berth.dev/docker-name'])).toEqual(['demo_back']);
    expect(nets[0]!.metadata.labels).toMatchObject({ 'com.docker.compose.project': 'demo', 'com.docker.compose.network': 'back' });
    const web = ctrs.find((c) => c.metadata.annotations!['berth.dev/docker-name'] === 'demo_web_1')!;
    expect(web.spec.networks).toEqual([{ name: nets[0]!.metadata.name, aliases: ['web'] }]);
    expect((await objects('volumes')).map((v) => v.metadata.annotations?.['berth.dev/docker-name'])).toEqual(['demo_shared']);
    // the reader found the web service by its service name, over the project network
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello-from-web'); i++) {
      logs = (await compose(['logs', '--no-color'])).stdout;
      if (!logs.includes('hello-from-web')) await new Promise((r) => setTimeout(r, 300));
    }
    expect(logs).toMatch(/reader_1\s+\| hello-from-web/);
    expect(logs).toMatch(/web_1\s+\| web-up/);
    const down = await compose(['down', '-v']);
    expect(down.code, down.stderr).toBe(0);
    expect(await objects('containers')).toEqual([]);
    expect(await objects('networks')).toEqual([]);
    expect(await objects('volumes')).toEqual([]);
  }, 180_000);

  it("refuses bad requests with Docker's messages and codes, and makes nothing", async () => {
    const badJson = await raw(sock, 'POST', '/v1.50/containers/create', '{"Image": "busybox",');
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body).message).toMatch(/^invalid JSON: /);
    const old = await raw(sock, 'GET', '/v1.30/version');
    expect([old.status, JSON.parse(old.body).message]).toEqual([400, 'client version 1.30 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version']);
    const newer = await raw(sock, 'GET', '/v1.99/containers/json');
    expect([newer.status, JSON.parse(newer.body).message]).toEqual([400, 'client version 1.99 is too new. Maximum supported API version is 1.50']);
    const big = await raw(sock, 'POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Env: [`A=${'x'.repeat(2 << 20)}`] }));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).message).toMatch(/larger than the 1048576 bytes allowed/);
    const badName = await raw(sock, 'POST', '/v1.50/containers/create?name=bad%20name', JSON.stringify({ Image: 'busybox' }));
    expect([badName.status, JSON.parse(badName.body).message]).toEqual([400, 'Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed']);
    const noImage = await raw(sock, 'POST', '/v1.50/containers/create?name=ghost', JSON.stringify({ Image: 'no/such-image:1' }));
    expect(noImage.status).toBe(404);
    expect(JSON.parse(noImage.body).message).toMatch(/^No such image: no\/such-image:1/);
    const badPort = await raw(sock, 'POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { PortBindings: { 'abc/tcp': [{ HostPort: '80' }] } } }));
    expect([badPort.status, JSON.parse(badPort.body).message]).toEqual([400, 'invalid port specification: "abc/tcp"']);
    const swarm = await raw(sock, 'GET', '/v1.50/services');
    expect([swarm.status, JSON.parse(swarm.body).message]).toEqual([501, 'swarm services (/services) is not supported by Berth']);
    const unknown = await raw(sock, 'GET', '/v1.50/nosuch');
    expect(unknown.status).toBe(404);
    const cli = await docker(['run', '-p', 'abc', 'busybox', 'true']);
    expect(cli.code).toBe(125);
    expect(cli.stderr).toContain('invalid containerPort: abc');
    // (a raw request: on any 404 the docker CLI tries a pull of the image first, and this machine reaches no registry)
    const noNet = await raw(sock, 'POST', '/v1.50/containers/create?name=lost', JSON.stringify({ Image: 'busybox', HostConfig: { NetworkMode: 'nosuch' } }));
    expect([noNet.status, JSON.parse(noNet.body).message]).toEqual([404, 'network nosuch not found']);
    const badSubnet = await raw(sock, 'POST', '/v1.50/networks/create', JSON.stringify({ Name: 'badnet', IPAM: { Config: [{ Subnet: '10.251.7.1/24' }] } }));
    expect([badSubnet.status, JSON.parse(badSubnet.body).message]).toEqual([400, 'invalid subnet 10.251.7.1/24: must be an IPv4 CIDR block such as 10.89.0.0/24, with the host bits zero (IPAM.Config[0].Subnet)']);
    const badDriver = await raw(sock, 'POST', '/v1.50/networks/create', JSON.stringify({ Name: 'badnet', Driver: 'overlay' }));
    expect([badDriver.status, JSON.parse(badDriver.body).message]).toEqual([404, 'plugin "overlay" not found: Berth networks take the bridge driver (Driver)']);
    expect(await objects('networks')).toEqual([]);
    expect(await objects('containers')).toEqual([]);
    expect(await objects('volumes')).toEqual([]);
  }, 180_000);
});
