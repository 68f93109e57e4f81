/** Registers this node's Node object and renews its heartbeat (status.lastHeartbeatTime + Ready). */
import { isNotFound, type KObject } from '../client/api-client.js';
import type { BerthResources } from '../client/kinds.js';
import { nodeFacts, type NodeFacts } from './node-info.js';
import { condition } from './status.js';
import { errorText, logger } from '../util/log.js';


export class NodeRegistration {
  private facts: NodeFacts | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readyCondition: unknown;

  constructor(
    private readonly client: BerthResources,
    private readonly nodeName: string,
    private readonly endpointUrl: () => string | undefined,
    private readonly intervalMs = 10_000,
    /** The networks set up on the node, reported with every heartbeat. */
    private readonly networks: () => Promise<Array<Record<string, unknown>>> = async () => [],
  ) {}

  async register(): Promise<void> {
    this.facts = await nodeFacts(this.nodeName);
    let node: KObject;
    try {
      node = await this.client.nodes.get(undefined, this.nodeName);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      node = await this.client.nodes.create(undefined, {
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'Node',
        metadata: {
          name: this.nodeName,
          labels: { 'kubernetes.io/hostname': this.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': this.facts.nodeInfo.architecture ?? 'amd64' },
        },
        spec: {},
      });
    }
    this.readyCondition = (node.status as { conditions?: unknown } | undefined)?.conditions;
    const url = this.endpointUrl();
    await this.client.nodes.patchStatus(undefined, this.nodeName, {
      capacity: this.facts.capacity,
      allocatable: this.facts.allocatable,
      nodeInfo: this.facts.nodeInfo,
      addresses: this.facts.addresses,
      ...(url ? { agentEndpoint: { url } } : {}),
      ...(await this.heartbeat()),
      observedGeneration: node.metadata.generation,
    });
  }

  private async heartbeat(): Promise<Record<string, unknown>> {
    const ready = condition(this.readyCondition, { type: 'Ready', status: 'True', reason: 'AgentReady', message: 'berth agent is posting ready status' });
    this.readyCondition = [ready];
    const networks = await this.networks().catch(() => undefined);
    return { lastHeartbeatTime: new Date().toISOString(), conditions: [ready], ...(networks ? { networks } : {}) };
  }

  async renew(): Promise<void> {
    try {
      await this.client.nodes.patchStatus(undefined, this.nodeName, await this.heartbeat());
    } catch (e) {
      if (isNotFound(e)) await this.register();
      else throw e;
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      this.renew().catch((e: unknown) => logger('agent').warn({ node: this.nodeName, err: errorText(e) }, 'heartbeat failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
