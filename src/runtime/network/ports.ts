/**
 * Published ports are held by the runtime's process the way docker-proxy holds them: a socket bound
 * to hostIP:hostPort for as long as the mapping exists. portmap's DNAT rules take the traffic before
 * it reaches the socket; the socket is what makes a port already used on the node (by a host process
 * or another container) a clear error instead of a silent failure, keeps the port from being taken
 * later, and picks a free port for hostPort 0 (docker run -P).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { conflict } from '../util/errors.js';

export interface PortMapping {
  containerPort: number;
  /** 0: any free port, chosen here. */
  hostPort: number;
  protocol: 'tcp' | 'udp';
  /** Node address to listen on; 0.0.0.0 when omitted. */
  hostIP?: string;
}

type Holder = { close(): void };

function holdTcp(host: string, port: number): Promise<{ port: number; holder: Holder }> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer((sock) => sock.destroy());
    server.once('error', reject);
    server.listen({ host, port, backlog: 1, exclusive: true }, () => {
      const addr = server.address();
      server.removeListener('error', reject);
      server.on('error', () => undefined);
      server.unref();
      resolve({ port: typeof addr === 'object' && addr ? addr.port : port, holder: { close: () => server.close() } });
    });
  });
}

function holdUdp(host: string, port: number): Promise<{ port: number; holder: Holder }> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createSocket({ type: 'udp4' });
    sock.once('error', reject);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => undefined);
      sock.on('message', () => undefined);
      sock.unref();
      resolve({ port: sock.address().port, holder: { close: () => sock.close() } });
    });
  });
}

export class PortReservations {
  private readonly held = new Map<string, Holder[]>();

  /**
   * Holds every mapping of `owner`, all or none; returns them with the ports chosen for hostPort 0.
   * `field(i)` names the mapping in errors (spec.ports[i]...).
   */
  async reserve(owner: string, mappings: PortMapping[], field: (i: number) => string): Promise<PortMapping[]> {
    const holders: Holder[] = [];
    const out: PortMapping[] = [];
    try {
      for (const [i, m] of mappings.entries()) {
        const host = m.hostIP ?? '0.0.0.0';
        try {
          const r = await (m.protocol === 'udp' ? holdUdp(host, m.hostPort) : holdTcp(host, m.hostPort));
          holders.push(r.holder);
          out.push({ ...m, hostPort: r.port, hostIP: host });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          const what = `${host}:${m.hostPort}/${m.protocol.toUpperCase()}`;
          if (code === 'EADDRINUSE') throw conflict(`${field(i)}.hostPort: ${what} is already in use on this node`);
          if (code === 'EADDRNOTAVAIL') throw conflict(`${field(i)}.hostIP: ${host} is not an address of this node`);
          if (code === 'EACCES') throw conflict(`${field(i)}.hostPort: ${what} may not be bound here`);
          throw e;
        }
      }
    } catch (e) {
      for (const h of holders) h.close();
      throw e;
    }
    this.release(owner);
    this.held.set(owner, holders);
    return out;
  }

  release(owner: string): void {
    for (const h of this.held.get(owner) ?? []) h.close();
    this.held.delete(owner);
  }

  owners(): string[] {
    return [...this.held.keys()];
  }

  releaseAll(): void {
    for (const owner of [...this.held.keys()]) this.release(owner);
  }
}
