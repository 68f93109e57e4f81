/**
 * Which node a client's image verb talks to: the one named; else the only Ready node; else the
 * node of this machine (named like this host, as `berth server` names its node, or the one node
 * reporting this machine's /etc/machine-id); else an error that lists the nodes, so the user can
 * pick one with --node.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { rawRequest, readAll, type RawConnection } from './raw-request.js';

export interface NodeSummary {
  name: string;
  ready: boolean;
  schedulable: boolean;
  hostname?: string;
  machineID?: string;
}

interface NodeList {
  items?: {
    metadata: { name: string };
    spec?: { unschedulable?: boolean };
    status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[]; nodeInfo?: { machineID?: string } };
  }[];
}

export class NodeChoiceError extends Error {}

export async function listNodes(conn: RawConnection): Promise<NodeSummary[]> {
  let list: NodeList;
  try {
    list = JSON.parse(await readAll(await rawRequest(conn, 'GET', '/apis/berth.dev/v1alpha1/nodes'))) as NodeList;
  } catch (e) {
    throw new NodeChoiceError(`listing nodes: ${(e as Error).message}`);
  }
  return (list.items ?? [])
    .map((n) => ({
      name: n.metadata.name,
      ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      schedulable: n.spec?.unschedulable !== true,
      ...(n.status?.addresses?.find((a) => a.type === 'Hostname') ? { hostname: n.status.addresses.find((a) => a.type === 'Hostname')!.address } : {}),
      ...(n.status?.nodeInfo?.machineID ? { machineID: n.status.nodeInfo.machineID } : {}),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const describe = (nodes: NodeSummary[]): string => (nodes.length ? nodes.map((n) => `${n.name} (${n.ready ? 'Ready' : 'NotReady'})`).join(', ') : 'none');

function localMachineID(): string | undefined {
  try {
    return readFileSync('/etc/machine-id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This machine's node: named like this host, else reporting it as its Hostname, else the only one with this machine-id. */
export function thisMachinesNode(nodes: NodeSummary[], host = hostname().toLowerCase(), machineID = localMachineID()): NodeSummary | undefined {
  const byName = nodes.find((n) => n.name === host) ?? nodes.find((n) => n.hostname?.toLowerCase() === host);
  if (byName) return byName;
  const byMachine = machineID ? nodes.filter((n) => n.machineID === machineID) : [];
  return byMachine.length === 1 ? byMachine[0] : undefined;
}

/**
 * The node to talk to. `wanted` is taken as given (the API server answers for a node that does
 * not exist); `thisMachine` asks for the node of this machine only (berth build --local).
 */
export async function chooseNode(conn: RawConnection, opts: { wanted?: string; thisMachine?: boolean } = {}): Promise<string> {
  if (opts.wanted) return opts.wanted;
  const nodes = await listNodes(conn);
  const host = hostname().toLowerCase();
  if (!opts.thisMachine) {
    const ready = nodes.filter((n) => n.ready);
    if (ready.length === 1) return ready[0]!.name;
  }
  const mine = thisMachinesNode(nodes, host);
  if (mine) return mine.name;
  if (opts.thisMachine) throw new NodeChoiceError(`no node of this machine (none named "${host}", and not exactly one with this machine-id); nodes: ${describe(nodes)}; choose one with --node NAME`);
  if (nodes.length === 0) throw new NodeChoiceError('no node has registered with the API server (is an agent running? berth server runs one)');
  throw new NodeChoiceError(`${nodes.filter((n) => n.ready).length === 0 ? 'no Ready node' : 'several Ready nodes'} and none named like this host ("${host}"); nodes: ${describe(nodes)}; choose one with --node NAME`);
}
