/**
 * How the API server and the agents know each other (issue 17, finding 12): the agent endpoint is
 * HTTPS with a certificate from Berth's CA for its node (nodes/NAME/certificate), the API server
 * checks it for the node it calls and presents its own client certificate; no bearer token exists.
 * A Node whose status names some other listener gets nothing from the API server.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../../src/apiserver/tls.js';
import { nodeIdentity } from '../../../src/cmd/compose.js';
import { containerManifest, imageManifest, phaseOf, runtimeSkipReason, startTestNode, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
const GV = '/apis/berth.dev/v1alpha1';

interface Reply {
  status: number;
  body: string;
}

/** A request to an agent endpoint with the given client certificate (or none). */
function agentGet(url: string, path: string, tls: { ca: string; cert?: string; key?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, url), { ...tls, checkServerIdentity: () => undefined }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A key and a certificate request made with openssl, as an agent makes them. */
function makeCsr(dir: string, cn: string): string {
  return execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${randomBytes(4).toString('hex')}.key`), '-subj', `/CN=${cn}`]).toString();
}

describe.skipIf(!!skip)('agent endpoint TLS and the API server as its only client', () => {
  let t: TestNode;
  let work: string;
  let tlsDir: string;
  let agentUrl: string;
  /** Every request a rogue listener received, with its headers. */
  const rogueRequests: Array<Record<string, unknown>> = [];
  const rogueHandshakes: string[] = [];
  let rogue: https.Server;
  let rogueUrl: string;

  const post = (path: string, body: unknown, token?: string): Promise<Response> => {
    const init = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } };
    return token ? fetchAs(token, path, init) : t.api(path, init);
  };
  const fetchAs = async (token: string, path: string, init: RequestInit): Promise<Response> => {
    const { fetchTrusting } = await import('../../helpers/tls-fetch.js');
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetchTrusting(t.node.api.caPem)(`${t.node.api.url}${path}`, { ...init, headers });
  };

  beforeAll(async () => {
    t = await startTestNode();
    work = await mkdtemp(join(tmpdir(), 'berth-agent-tls-'));
    tlsDir = join(t.dir, 'data', 'tls');
    await t.apply(imageManifest(t.tarball));
    await t.apply(containerManifest('talker', { command: ['sh', '-c', 'echo hello-from-talker; exec sleep 3600'] }));
    for (let i = 0; i < 600 && phaseOf(await t.container('talker')) !== 'Running'; i++) await new Promise((r) => setTimeout(r, 100));
    agentUrl = ((await t.client.get('nodes', undefined, t.nodeName)).status as { agentEndpoint: { url: string } }).agentEndpoint.url;
    // a listener with a self-signed certificate that records whatever reaches it
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(work, 'rogue.key'), '-out', join(work, 'rogue.crt'), '-days', '2', '-subj', `/CN=system:node:${t.nodeName}`], { stdio: 'ignore' });
    rogue = https.createServer({ key: await readFile(join(work, 'rogue.key')), cert: await readFile(join(work, 'rogue.crt')) }, (req, res) => {
      rogueRequests.push({ url: req.url, ...req.headers });
      res.end('{}');
    });
    rogue.on('secureConnection', () => rogueHandshakes.push('done'));
    rogue.on('upgrade', (req, socket) => {
      rogueRequests.push({ url: req.url, ...req.headers });
      socket.destroy();
    });
    await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', () => r()));
    rogueUrl = `https://127.0.0.1:${(rogue.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    rogue?.close();
    await t?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the agent serves HTTPS with a certificate from Berth\'s CA for its node, and answers only the API server', async () => {
    expect(agentUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = await readFile(join(tlsDir, 'ca.crt'), 'utf8');
    const nodeCert = new X509Certificate(await readFile(join(t.dir, 'data', 'agent-tls', 'node.crt'), 'utf8'));
    expect(nodeCert.subject).toContain(`CN=system:node:${t.nodeName}`);
    expect(nodeCert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    // the API server's client certificate: answered
    const asApi = { ca, cert: await readFile(join(tlsDir, 'apiserver-client.crt'), 'utf8'), key: await readFile(join(tlsDir, 'apiserver-client.key'), 'utf8') };
    expect(await agentGet(agentUrl, '/healthz', asApi)).toEqual({ status: 200, body: 'ok' });
    expect((await agentGet(agentUrl, '/containers/default/talker/log', asApi)).body).toContain('hello-from-talker');
    // no client certificate: the handshake fails, nothing is served
    await expect(agentGet(agentUrl, '/containers/default/talker/log', { ca })).rejects.toThrow();
    // and plain HTTP is not spoken at all
    await expect(fetch(`${agentUrl.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
    // a node's certificate (serverAuth only) is no client certificate: refused in the handshake
    const asNode = { ca, cert: nodeCert.toString(), key: await readFile(join(t.dir, 'data', 'agent-tls', 'node.key'), 'utf8') };
    await expect(agentGet(agentUrl, '/containers/default/talker/log', asNode)).rejects.toThrow();
    // a client certificate from the same CA for another user: 403
    const csr = makeCsr(work, 'alice');
    const aliceKey = execFileSync('ls', ['-t', work]).toString().split('\n').find((f) => f.endsWith('.key'))!;
    const asAlice = { ca, cert: await signRequest(join(t.dir, 'data'), csr, '/CN=alice', 'clientAuth'), key: await readFile(join(work, aliceKey), 'utf8') };
    const refused = await agentGet(agentUrl, '/containers/default/talker/log', asAlice);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('only system:berth-apiserver may call this endpoint');
    // a token, as before, is no credential
    await expect(new Promise((resolve, reject) => https.get(new URL('/healthz', agentUrl), { ca, headers: { authorization: 'Bearer x' }, checkServerIdentity: () => undefined }, resolve).on('error', reject))).rejects.toThrow();
  });

  it('nodes/NAME/certificate: a node gets a certificate for itself only; view users none; a bad request names the field', async () => {
    const csr = makeCsr(work, 'whatever');
    const self = t.node.api.issueProcessToken(nodeIdentity(t.nodeName));
    const own = await post(`${GV}/nodes/${t.nodeName}/certificate`, { csr }, self);
    expect(own.status).toBe(201);
    const got = (await own.json()) as { certificate: string; ca: string };
    const cert = new X509Certificate(got.certificate);
    // the subject is the server's choice, not the request's
    expect(cert.subject.split('\n')).toEqual([`CN=system:node:${t.nodeName}`, 'O=system:nodes']);
    expect(cert.verify(new X509Certificate(got.ca).publicKey)).toBe(true);
    const other = await post(`${GV}/nodes/other-node/certificate`, { csr }, self);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { message: string }).message).toContain(`User "system:node:${t.nodeName}" cannot create resource "nodes/certificate"`);
    const viewer = t.node.api.issueProcessToken({ name: 'viewer', groups: [] });
    expect((await post(`${GV}/nodes/${t.nodeName}/certificate`, { csr }, viewer)).status).toBe(403);
    // cluster-admin may
    expect((await post(`${GV}/nodes/other-node/certificate`, { csr })).status).toBe(201);
    const bad = await post(`${GV}/nodes/${t.nodeName}/certificate`, { csr: 'not a csr' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/^csr: must be a PEM certificate request/);
    // a request whose signature does not match its key (the last byte of the signature changed): no proof of the key
    const der = Buffer.from(csr.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 1] = der[der.length - 1]! ^ 0x01;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    const tampered = await post(`${GV}/nodes/${t.nodeName}/certificate`, { csr: forged });
    expect(tampered.status).toBe(400);
    expect(((await tampered.json()) as { message: string }).message).toMatch(/^csr: /);
    expect((await post(`${GV}/nodes/Not_A_Name/certificate`, { csr })).status).toBe(400);
  });

  it('a Node whose status names another listener gets nothing: no request, no credential; logs, exec and the node API fail with a clear 502', async () => {
    const nodes = `${GV}/nodes`;
    expect((await post(nodes, { apiVersion: 'berth.dev/v1alpha1', kind: 'Node', metadata: { name: 'rogue-node' } })).status).toBe(201);
    const setEndpoint = async (node: string, url: string): Promise<void> => {
      const r = await t.api(`${nodes}/${node}/status`, { method: 'PATCH', body: JSON.stringify({ status: { agentEndpoint: { url } } }), headers: { 'content-type': 'application/merge-patch+json' } });
      expect(r.status).toBe(200);
    };
    await t.apply({ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', metadata: { name: 'elsewhere', namespace: 'default' }, spec: { image: 'busybox:latest', nodeName: 'rogue-node', command: ['true'] } });

    // a self-signed listener, and one whose certificate is from Berth's CA but for another node (this one's agent)
    for (const [url, why] of [
      [rogueUrl, /TLS verification failed, nothing was sent: self[- ]signed certificate/],
      [agentUrl, new RegExp(`TLS verification failed, nothing was sent: the endpoint's certificate is for "system:node:${t.nodeName}", not system:node:rogue-node`)],
    ] as const) {
      await setEndpoint('rogue-node', url);
      const logs = await t.api(`${GV}/namespaces/default/containers/elsewhere/log`);
      expect(logs.status).toBe(502);
      const status = (await logs.json()) as { kind: string; message: string };
      expect(status.kind).toBe('Status');
      expect(status.message).toMatch(/^agent of node "rogue-node": /);
      expect(status.message).toMatch(why);
      const exec = await t.api(`${GV}/namespaces/default/containers/elsewhere/exec`, { method: 'POST', body: JSON.stringify({ command: ['id'] }), headers: { 'content-type': 'application/json' } });
      expect(exec.status).toBe(502);
      expect(((await exec.json()) as { message: string }).message).toMatch(why);
      expect((await t.api(`${nodes}/rogue-node/proxy/images/json`)).status).toBe(502);
      // exec over WebSocket: refused with the same Status before any upgrade reaches the listener
      const upgraded = await new Promise<number>((resolve, reject) => {
        const headers = { authorization: `Bearer ${t.node.api.credentials.adminToken}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13', 'sec-websocket-protocol': 'v5.channel.k8s.io' };
        const req = https.request(new URL(`${GV}/namespaces/default/containers/elsewhere/exec?command=id&stdout=true`, t.node.api.url), { ca: t.node.api.caPem, headers });
        req.on('response', (res) => resolve(res.statusCode ?? 0));
        req.on('upgrade', () => resolve(101));
        req.on('error', reject);
        req.end();
      });
      expect(upgraded).toBe(502);
    }
    // an endpoint that is not https is not called either
    await setEndpoint('rogue-node', rogueUrl.replace('https:', 'http:'));
    const plain = await t.api(`${GV}/namespaces/default/containers/elsewhere/log`);
    expect(plain.status).toBe(502);
    expect(((await plain.json()) as { message: string }).message).toContain('is not https');

    // the rogue listener completed no handshake and received not one request: no path, no header, no token
    expect(rogueRequests).toEqual([]);
    expect(rogueHandshakes).toEqual([]);
    // while the real node's container still answers through the API
    const ok = await t.api(`${GV}/namespaces/default/containers/talker/log`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('hello-from-talker');
  });
});
