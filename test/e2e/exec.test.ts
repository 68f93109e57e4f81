/**
 * Exec through the API like Kubernetes does it: a real `berth server` process (API server, agent,
 * real runc), driven by a raw WebSocket client speaking the remotecommand protocol and by the
 * berth CLI.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse } from 'yaml';
import { berthArgv } from '../helpers/berth-bin.js';
import { cleanUpE2eServer } from '../helpers/e2e-cleanup.js';
import { BUSYBOX_TAR, e2eSkipReason } from '../helpers/e2e-skip.js';
import { run } from '../helpers/run.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const skip = e2eSkipReason('exec', ['runc', 'conmon']);
if (skip) console.warn(`skipping exec e2e: ${skip}`);

const POLL = { timeout: 60_000, interval: 250 };

const MANIFESTS = `
apiVersion: berth.dev/v1alpha1
kind: Image
metadata: { name: busybox }
spec:
  ref: busybox:latest
  source: { import: { path: ${BUSYBOX_TAR}, format: rootfs } }
---
apiVersion: berth.dev/v1alpha1
kind: Container
metadata: { name: box }
spec: { image: busybox:latest, command: [sleep, '3600'], stopGracePeriodSeconds: 1 }
---
apiVersion: berth.dev/v1alpha1
kind: Container
metadata: { name: finished }
spec: { image: busybox:latest, command: ['true'], restartPolicy: Never }
`;

interface Session {
  ws: WebSocket;
  /** Text received so far on a channel. */
  text(channel: number): string;
  /** The Status on the error channel, once the session closes. */
  status: Promise<unknown>;
  send(channel: number, data: string | Buffer): void;
}

describe.skipIf(!!skip)('exec over WebSocket through the API server', () => {
  let dir: string;
  let server: ServerProcess;
  let ca: string;
  const cgroupParent = `berth-e2e-exec-${process.pid}`;
  const berth = (args: string[], input?: string) => {
    const [cmd, argv] = berthArgv([args[0]!, '--kubeconfig', server.kubeconfig, ...args.slice(1)]);
    return run(cmd, argv, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  };
  const execUrl = (name: string, query: string) => `${server.url.replace(/^https/, 'wss')}/apis/berth.dev/v1alpha1/namespaces/default/containers/${name}/exec?${query}`;

  /** A raw remotecommand client: nothing of Berth's own client code. */
  const open = (name: string, query: string, protocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io']): Promise<Session> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(execUrl(name, query), protocols, { ca, headers: { authorization: `Bearer ${server.token}` } });
      const received = new Map<number, Buffer[]>();
      let status: unknown;
      ws.on('message', (d: Buffer) => {
        if (d[0] === 3) status = JSON.parse(d.subarray(1).toString());
        else received.set(d[0]!, [...(received.get(d[0]!) ?? []), d.subarray(1)]);
      });
      const closed = new Promise<unknown>((r) => ws.once('close', () => r(status)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { code: res.statusCode, body: JSON.parse(body) as unknown })));
      });
      ws.once('error', reject);
      ws.once('open', () =>
        resolve({
          ws,
          text: (ch) => Buffer.concat(received.get(ch) ?? []).toString(),
          status: closed,
          send: (ch, data) => ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)])),
        }),
      );
    });
  const refusal = (name: string, query: string, protocols?: string[]) => open(name, query, protocols).then(() => undefined, (e: { code: number; body: unknown }) => e);
  const q = (...command: string[]) => command.map((c) => `command=${encodeURIComponent(c)}`).join('&');

  const status = async (name: string) => {
    const r = await berth(['get', 'container', name, '-o', 'json']);
    return ((JSON.parse(r.stdout || '{}') as { status?: { phase?: string; containerID?: string } }).status ?? {});
  };
  const containerId = async () => (await status('box')).containerID ?? '';
  /** `runc exec` processes for the container still on the host. */
  const runcExecs = (id: string) =>
    execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(' exec ') && l.includes(id));
  const execDirFiles = async (id: string) => readdir(join(dir, 'data', 'runtime', 'containers', id, 'exec')).catch(() => []);
  const top = async () => (await berth(['top', 'box'])).stdout;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-exec-'));
    server = await startServerProcess(join(dir, 'data'), ['--cgroup-parent', cgroupParent, '--node-name', 'exec-node', '--no-registry']);
    const kubeconfig = parse(readFileSync(server.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    ca = Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString();
    await writeFile(join(dir, 'manifests.yaml'), MANIFESTS);
    expect((await berth(['apply', '-f', join(dir, 'manifests.yaml')])).code).toBe(0);
    const phase = async (name: string) => (await status(name)).phase;
    // expect.poll works inside tests only
    for (const [name, want] of [['box', 'Running'], ['finished', 'Exited']] as const) {
      const until = Date.now() + POLL.timeout;
      while ((await phase(name)) !== want) {
        if (Date.now() > until) throw new Error(`container ${name} never reached ${want}`);
        await new Promise((r) => setTimeout(r, POLL.interval));
      }
    }
  }, 120_000);

  afterAll(() => cleanUpE2eServer(server, dir, cgroupParent));

  it('streams stdin in and stdout and stderr out on their channels, and ends with kubelet\'s exit status', async () => {
    const s = await open('box', `${q('sh', '-c', 'cat; echo err >&2; exit 3')}&stdin=true&stdout=true&stderr=true`);
    expect(s.ws.protocol).toBe('v5.channel.k8s.io');
    s.send(0, 'hello ');
    s.send(0, 'world\n');
    s.send(255, Buffer.from([0])); // v5: close stdin
    expect(await s.status).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(s.text(1)).toBe('hello world\n');
    expect(s.text(2)).toBe('err\n');

    // a command that cannot start is an error, as kubelet reports it, not an exit code
    const missing = await open('box', q('no-such-command'));
    expect(await missing.status).toMatchObject({ status: 'Failure', reason: 'InternalError', message: expect.stringMatching(/error executing command in container: .*executable file not found/) });
    expect([missing.text(1), missing.text(2)]).toEqual(['', '']);

    const ok = await open('box', `${q('echo', 'fine')}&stdout=true`);
    expect(await ok.status).toEqual({ metadata: {}, status: 'Success' });
    expect(ok.text(1)).toBe('fine\n');
    expect(await execDirFiles(await containerId())).toEqual([]);
  });

  it('speaks v4.channel.k8s.io to a client that offers only that', async () => {
    const s = await open('box', `${q('sh', '-c', 'echo out; echo err >&2')}`, ['v4.channel.k8s.io']);
    expect(s.ws.protocol).toBe('v4.channel.k8s.io');
    expect(await s.status).toEqual({ metadata: {}, status: 'Success' });
    expect([s.text(1), s.text(2)]).toEqual(['out\n', 'err\n']);
  });

  it('gives a tty: the process sees a terminal that follows resizes', async () => {
    const s = await open('box', `${q('sh', '-c', 'tty; while read line; do stty size; done')}&stdin=true&tty=true`);
    await expect.poll(() => s.text(1), POLL).toMatch(/^\/dev\/pts\/\d+\r\n/);
    s.send(4, JSON.stringify({ Width: 123, Height: 45 }));
    // the resize reaches the container's terminal asynchronously: ask until it answers with it
    await expect
      .poll(() => {
        s.send(0, '\n');
        return s.text(1);
      }, POLL)
      .toContain('45 123\r\n');
    s.ws.close(); // the loop never ends by itself: the client leaving ends it
    await s.status;
    const id = await containerId();
    await expect.poll(() => runcExecs(id), POLL).toEqual([]);
    await expect.poll(() => execDirFiles(id), POLL).toEqual([]);
  });

  it('kills the process when the client goes away mid-exec, leaving no runc exec behind', async () => {
    const id = await containerId();
    const s = await open('box', `${q('sh', '-c', 'sleep 1001 & sleep 1002')}&stdin=true`);
    await expect.poll(top, POLL).toContain('sleep 1002');
    expect(runcExecs(id)).toHaveLength(1);
    s.ws.terminate(); // no close handshake: the TCP connection just goes
    await expect.poll(() => runcExecs(id), POLL).toEqual([]);
    await expect.poll(top, POLL).not.toMatch(/sleep 100[12]/);
    expect(await execDirFiles(id)).toEqual([]);
  });

  it('refuses bad requests before upgrading, with Status objects', async () => {
    const bad = await refusal('box', 'stdout=true');
    expect(bad).toMatchObject({ code: 400, body: { kind: 'Status', status: 'Failure', reason: 'BadRequest', code: 400, details: { causes: [{ field: 'command' }] } } });
    expect(await refusal('box', `${q('true')}&stdin=maybe`)).toMatchObject({ code: 400, body: { message: expect.stringContaining('stdin: Invalid value "maybe"'), details: { causes: [{ field: 'stdin' }] } } });
    expect(await refusal('box', `${q('true')}&stdin=false&stdout=false&stderr=false`)).toMatchObject({ code: 400, body: { message: expect.stringMatching(/at least one of stdin, stdout and stderr/) } });
    expect(await refusal('box', q('true'), ['v3.channel.k8s.io'])).toMatchObject({ code: 400, body: { message: expect.stringContaining('Sec-WebSocket-Protocol') } });
    expect(await refusal('missing', q('true'))).toMatchObject({ code: 404, body: { reason: 'NotFound', message: 'containers.berth.dev "missing" not found' } });
    expect(await refusal('finished', q('true'))).toMatchObject({ code: 409, body: { reason: 'Conflict', message: 'container "finished" is not running' } });

    const noToken = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(execUrl('box', q('true')), ['v5.channel.k8s.io'], { ca });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(101));
      ws.once('error', () => undefined);
    });
    expect(noToken).toBe(401);
    // without an upgrade, GET explains itself; POST still runs the command buffered
    expect((await server.api(`/apis/berth.dev/v1alpha1/namespaces/default/containers/box/exec?${q('true')}`)).status).toBe(400);
    const posted = await server.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/box/exec', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: ['sh', '-c', 'cat; exit 2'], stdin: 'buffered\n' }),
    });
    expect(await posted.json()).toEqual({ exitCode: 2, stdout: 'buffered\n', stderr: '', truncated: false });
  });

  it('berth exec: -i pipes stdin, stdout and stderr stay apart, the exit code passes through; -t gives a terminal', async () => {
    const r = await berth(['exec', '-i', 'box', '--', 'sh', '-c', 'cat; echo err >&2; exit 3'], 'piped in\n');
    expect(r).toEqual({ code: 3, stdout: 'piped in\n', stderr: 'err\n' });
    expect(await berth(['exec', 'box', '--', 'sh', '-c', 'cat; echo no stdin'], 'ignored\n')).toEqual({ code: 0, stdout: 'no stdin\n', stderr: '' });
    const t = await berth(['exec', '-t', 'box', '--', 'sh', '-c', 'tty; echo err >&2']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^\/dev\/pts\/\d+\r\nerr\r\n$/);
    // kubectl's rule: -i -t with input that is not a terminal drops the terminal
    const it2 = await berth(['exec', '-i', '-t', 'box', '--', 'cat'], 'plain\n');
    expect(it2).toEqual({ code: 0, stdout: 'plain\n', stderr: 'Unable to use a TTY - input is not a terminal or the right kind of file\n' });
    expect(await berth(['exec', 'missing', '--', 'true'])).toMatchObject({ code: 1, stderr: 'error: containers.berth.dev "missing" not found\n' });
    expect(await berth(['exec', 'box', '--', 'no-such-command'])).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/^error: .*"no-such-command": executable file not found/) });
    const help = await berth(['exec', '--help']);
    expect(help.stdout).toMatch(/Usage: berth exec \[-i\] \[-t\]/);
    expect(help.stdout).toMatch(/-t, --tty\s+give the process a terminal/);
  });
});
