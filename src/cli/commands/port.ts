/** docker port's output of a container's published ports as its status has them (berth port, in container-verbs.ts). */
import type { ContainerObject } from '../../client/kinds.js';
import { CliError } from '../errors.js';

export type PublishedPort = NonNullable<NonNullable<ContainerObject['status']>['ports']>[number];

/** docker port's lines: "80/tcp -> 0.0.0.0:32768", or only "0.0.0.0:32768" when a port was asked for. */
export function formatPorts(ports: PublishedPort[], want?: string): string[] {
  let list = [...ports].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
  if (want !== undefined) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/i.exec(want);
    if (!m) throw new CliError(`${JSON.stringify(want)} is not a port: PORT or PORT/tcp|udp`);
    const proto = (m[2] ?? 'tcp').toUpperCase();
    list = list.filter((p) => p.containerPort === Number(m[1]) && p.protocol === proto);
    if (list.length === 0) throw new CliError(`no public port '${m[1]}/${proto.toLowerCase()}' published`);
    return list.map((p) => `${p.hostIP}:${p.hostPort}`);
  }
  return list.map((p) => `${p.containerPort}/${p.protocol.toLowerCase()} -> ${p.hostIP}:${p.hostPort}`);
}
