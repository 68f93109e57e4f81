/**
 * The node's embedded DNS responder, as Docker's on user networks: on each network it listens on
 * the gateway address (UDP and TCP port 53, which every container of the network reaches on-link)
 * and answers the names and aliases of the containers on that network, A and PTR; every other
 * question is forwarded, unchanged, to the upstream resolvers it was given (the node's by default),
 * and the answer relayed back. Packets are read with dns-packet; every buffer, connection and
 * pending forward is bounded.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';

export interface Upstream {
  host: string;
  port: number;
}

export interface DnsRecord {
  network: string;
  containerId: string;
  name: string;
  ip: string;
}

export interface DnsResponderOptions {
  /** Where questions for other names go; [] answers them SERVFAIL. */
  upstreams: Upstream[];
  /** Per upstream try (default 2 s). */
  timeoutMs?: number;
  ttl?: number;
  log?: (line: string) => void;
}

const MAX_PENDING = 256;
const MAX_TCP_CONNECTIONS = 64;
const MAX_TCP_MESSAGE = 65535;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

interface Listener {
  address: string;
  /** Whether this network's container names are answered (false: forward only). */
  names: boolean;
  udp: Socket;
  tcp: Server;
}

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export class DnsResponder {
  private readonly listeners = new Map<string, Listener>();
  private readonly records: DnsRecord[] = [];
  private pending = 0;
  private tcpConnections = 0;
  private upstreams: Upstream[];
  private readonly timeoutMs: number;
  private readonly ttl: number;

  constructor(private readonly o: DnsResponderOptions) {
    this.upstreams = o.upstreams;
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.ttl = o.ttl ?? 600;
  }

  setUpstreams(upstreams: Upstream[]): void {
    this.upstreams = upstreams;
  }

  /** Serves `network` on address:port (UDP and TCP); a network already served stays as it is. */
  async listen(network: string, address: string, names: boolean, port = 53): Promise<void> {
    if (this.listeners.has(network)) return;
    const udp = createSocket({ type: 'udp4' });
    udp.on('message', (msg, rinfo) => void this.onUdp(network, udp, msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address, port, exclusive: true }, () => {
        udp.removeListener('error', reject);
        resolve();
      });
    });
    udp.on('error', (e) => this.o.log?.(`dns: ${network}: udp: ${e.message}`));
    const tcp = createServer((sock) => this.onTcp(network, sock));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port, exclusive: true }, () => {
          tcp.removeListener('error', reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      throw e;
    }
    tcp.on('error', (e) => this.o.log?.(`dns: ${network}: tcp: ${e.message}`));
    this.listeners.set(network, { address, names, udp, tcp });
  }

  isListening(network: string): boolean {
    return this.listeners.has(network);
  }

  async stop(network: string): Promise<void> {
    const l = this.listeners.get(network);
    if (!l) return;
    this.listeners.delete(network);
    l.udp.close();
    await new Promise<void>((r) => l.tcp.close(() => r()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((n) => this.stop(n)));
  }

  /** The names of a container on a network (its name and aliases), replacing what it had there. */
  register(network: string, containerId: string, names: string[], ip: string): void {
    this.unregister(containerId, network);
    for (const name of new Set(names.map(norm))) if (name) this.records.push({ network, containerId, name, ip });
  }

  /** Forgets a container's names (on one network, or on all). */
  unregister(containerId: string, network?: string): void {
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.containerId === containerId && (network === undefined || r.network === network)) this.records.splice(i, 1);
    }
  }

  entries(): DnsRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** The answer to one query from `network`, or undefined when it is to be forwarded. */
  answerLocally(network: string, query: dnsPacket.DecodedPacket): Buffer | undefined {
    const q = query.questions?.[0];
    if (!q || query.questions!.length !== 1) return undefined;
    if (!this.listeners.get(network)?.names) return undefined;
    const name = norm(q.name);
    const local = this.records.filter((r) => r.network === network);
    const base = { type: 'response' as const, id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE, questions: [q] };
    if (q.type === 'PTR') {
      const hits = local.filter((r) => reverseName(r.ip) === name);
      if (hits.length === 0) return undefined;
      return dnsPacket.encode({ ...base, answers: [{ type: 'PTR', name: q.name, ttl: this.ttl, data: hits[0]!.name }] });
    }
    const hits = local.filter((r) => r.name === name);
    if (hits.length === 0) return undefined;
    // a container name has IPv4 addresses only: other types get an empty answer, not a forward that leaks the name
    const answers = q.type === 'A' ? [...new Set(hits.map((h) => h.ip))].map((ip) => ({ type: 'A' as const, name: q.name, ttl: this.ttl, data: ip })) : [];
    return dnsPacket.encode({ ...base, answers });
  }

  private failure(query: dnsPacket.DecodedPacket, rcode: number): Buffer {
    return dnsPacket.encode({ type: 'response', id: query.id, flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode, questions: query.questions ?? [] });
  }

  /** The answer to one raw query: local, forwarded, or SERVFAIL; undefined for what is not a query. */
  private async answer(network: string, raw: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      return undefined;
    }
    if (query.type !== 'query') return undefined;
    const local = this.answerLocally(network, query);
    if (local) return local;
    if (this.upstreams.length === 0) return this.failure(query, query.questions?.length ? RCODE_SERVFAIL : RCODE_NXDOMAIN);
    if (this.pending >= MAX_PENDING) return this.failure(query, RCODE_SERVFAIL);
    this.pending++;
    try {
      for (const up of this.upstreams) {
        const res = await (tcp ? forwardTcp(up, raw, this.timeoutMs) : forwardUdp(up, raw, this.timeoutMs)).catch(() => undefined);
        if (res && res.length >= 2 && res.readUInt16BE(0) === query.id) return res;
      }
      return this.failure(query, RCODE_SERVFAIL);
    } finally {
      this.pending--;
    }
  }

  private async onUdp(network: string, sock: Socket, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    const res = await this.answer(network, msg, false);
    if (!res) return;
    // a UDP answer larger than the classic 512 bytes is cut to its header with TC set, so the client asks over TCP
    const out = res.length > 4096 ? truncated(res) : res;
    sock.send(out, rinfo.port, rinfo.address, () => undefined);
  }

  private onTcp(network: string, sock: TcpSocket): void {
    if (this.tcpConnections >= MAX_TCP_CONNECTIONS) return void sock.destroy();
    this.tcpConnections++;
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('close', () => this.tcpConnections--);
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_TCP_MESSAGE + 2) return void sock.destroy();
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(network, Buffer.from(msg), true).then((res) => {
          if (!res || sock.destroyed) return;
          const len2 = Buffer.alloc(2);
          len2.writeUInt16BE(res.length);
          sock.write(Buffer.concat([len2, res]));
        });
      }
    });
  }
}

function truncated(res: Buffer): Buffer {
  const head = Buffer.from(res.subarray(0, 12));
  head.writeUInt16BE(head.readUInt16BE(2) | dnsPacket.TRUNCATED_RESPONSE, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt32BE(0, 8);
  return head;
}

function forwardUdp(up: Upstream, raw: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: up.host.includes(':') ? 'udp6' : 'udp4' });
    const done = (e?: Error, res?: Buffer): void => {
      clearTimeout(timer);
      sock.close();
      if (e) reject(e);
      else resolve(res!);
    };
    const timer = setTimeout(() => done(new Error('timeout')), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port === up.port && msg.length >= 2 && msg.readUInt16BE(0) === raw.readUInt16BE(0)) done(undefined, msg);
    });
    sock.send(raw, up.port, up.host);
  });
}

function forwardTcp(up: Upstream, raw: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(raw.length);
      sock.write(Buffer.concat([len, raw]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_TCP_MESSAGE + 2) {
        clearTimeout(timer);
        sock.destroy();
        return reject(new Error('answer too large'));
      }
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed'));
    });
  });
}

/** The nameservers of a resolv.conf, as upstreams on port 53. */
export function upstreamsFromResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push({ host: m[1]!, port: 53 });
  }
  return out;
}

/** "10.0.0.1", "10.0.0.1:5353", "[fd00::1]:53" → an upstream; undefined when unreadable. */
export function parseUpstream(s: string): Upstream | undefined {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1]!, port: Number(v6[2] ?? 53) };
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?$/.exec(s);
  if (v4) {
    const port = Number(v4[2] ?? 53);
    return port > 0 && port < 65536 ? { host: v4[1]!, port } : undefined;
  }
  return undefined;
}
