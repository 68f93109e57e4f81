/**
 * The embedded DNS responder on loopback addresses of its own (127.0.0.78/79), with a stub upstream
 * this test runs: names and aliases of a network answered (A, PTR, empty AAAA), scoped to their
 * network, other names forwarded over UDP and TCP and relayed, SERVFAIL without upstreams.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResponder, parseUpstream, upstreamsFromResolvConf } from '../../../src/runtime/network/dns.js';

const HOST = '127.0.0.78';
const STUB = '127.0.0.79';

function askUdp(port: number, name: string, type: dnsPacket.RecordType = 'A'): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(m));
    });
    s.send(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, HOST);
  });
}

function askTcp(port: number, name: string): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: HOST, port }, () => sock.write(dnsPacket.streamEncode({ type: 'query', id: 7, questions: [{ type: 'A', name }] })));
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(dnsPacket.decode(buf.subarray(2)));
      }
    });
    sock.on('error', reject);
  });
}

const rcode = (p: dnsPacket.DecodedPacket): string => (p as unknown as { rcode: string }).rcode;

describe('embedded DNS responder', () => {
  let stubUdp: Socket;
  let stubTcp: Server;
  let stubPort: number;
  const asked: string[] = [];
  let dns: DnsResponder;
  const port = 20000 + (process.pid % 20000);

  const stubAnswer = (msg: Buffer): Buffer => {
    const q = dnsPacket.decode(msg);
    asked.push(q.questions![0]!.name);
    return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 5, data: '203.0.113.9' }] });
  };

  beforeAll(async () => {
    stubUdp = createSocket('udp4');
    stubUdp.on('message', (m, r) => stubUdp.send(stubAnswer(m), r.port, r.address));
    await new Promise<void>((r) => stubUdp.bind(0, STUB, () => r()));
    stubPort = stubUdp.address().port;
    stubTcp = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        const res = stubAnswer(d.subarray(2));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(res.length);
        sock.end(Buffer.concat([len, res]));
      });
    });
    await new Promise<void>((r) => stubTcp.listen(stubPort, STUB, () => r()));
    dns = new DnsResponder({ upstreams: [{ host: STUB, port: stubPort }], timeoutMs: 1000 });
    await dns.listen('front', HOST, true, port);
    dns.register('front', 'c1', ['web', 'API'], '10.251.0.2');
    dns.register('back', 'c2', ['db'], '10.251.1.2');
  });

  afterAll(async () => {
    await dns.close();
    stubUdp.close();
    stubTcp.close();
  });

  it('answers the names and aliases of its network, case-insensitively, with PTR and an empty AAAA', async () => {
    const a = await askUdp(port, 'web');
    expect(a.answers).toEqual([expect.objectContaining({ type: 'A', name: 'web', data: '10.251.0.2' })]);
    expect(a.id).toBe(4242);
    expect((await askUdp(port, 'api')).answers?.[0]).toMatchObject({ data: '10.251.0.2' });
    expect((await askUdp(port, 'Web.')).answers?.[0]).toMatchObject({ data: '10.251.0.2' });
    expect((await askUdp(port, '2.0.251.10.in-addr.arpa', 'PTR')).answers?.[0]).toMatchObject({ type: 'PTR', data: 'web' });
    const aaaa = await askUdp(port, 'web', 'AAAA');
    expect(aaaa.answers).toEqual([]);
    expect(rcode(aaaa)).toBe('NOERROR');
    expect(asked).toEqual([]);
  });

  it('forwards other names (and names of other networks) to the upstream, over UDP and TCP', async () => {
    expect((await askUdp(port, 'db')).answers?.[0]).toMatchObject({ data: '203.0.113.9' });
    expect((await askUdp(port, 'outside.test')).answers?.[0]).toMatchObject({ data: '203.0.113.9' });
    expect((await askTcp(port, 'tcp.test')).answers?.[0]).toMatchObject({ data: '203.0.113.9' });
    expect((await askTcp(port, 'web')).answers?.[0]).toMatchObject({ data: '10.251.0.2' });
    expect(asked).toEqual(['db', 'outside.test', 'tcp.test']);
  });

  it('forgets a container, and says SERVFAIL when it has no upstream', async () => {
    dns.unregister('c1');
    expect(dns.entries().map((e) => e.name)).toEqual(['db']);
    dns.setUpstreams([]);
    const r = await askUdp(port, 'web');
    expect(rcode(r)).toBe('SERVFAIL');
    expect(asked).not.toContain('web');
  });

  it('reads upstreams from resolv.conf and flags', () => {
    expect(upstreamsFromResolvConf('# x\nnameserver 10.0.0.2\nsearch a\nnameserver fd00::1\n')).toEqual([{ host: '10.0.0.2', port: 53 }, { host: 'fd00::1', port: 53 }]);
    expect(parseUpstream('127.0.0.5:5353')).toEqual({ host: '127.0.0.5', port: 5353 });
    expect(parseUpstream('[fd00::1]')).toEqual({ host: 'fd00::1', port: 53 });
    expect(parseUpstream('resolver.example')).toBeUndefined();
    expect(parseUpstream('1.2.3.4:70000')).toBeUndefined();
  });
});
