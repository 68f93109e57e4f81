/** What inspect, ps and system verbs look up besides Containers: image configs and volumes on the node. */
import type { KObject } from '../../client/api-client.js';
import type { ImageConfigView } from '../../client/docker/views.js';
import { NodeApiClient } from '../../client/node-api.js';
import type { DockerContext } from './context.js';

/** Image configs by node and ref, fetched once per command. */
export function imageConfigs(ctx: DockerContext): (c: KObject) => Promise<ImageConfigView | undefined> {
  const cache = new Map<string, Promise<ImageConfigView | undefined>>();
  return (c) => {
    const spec = (c.spec ?? {}) as { image?: string; nodeName?: string };
    if (!spec.image || !spec.nodeName) return Promise.resolve(undefined);
    const key = `${spec.nodeName}\0${spec.image}`;
    let p = cache.get(key);
    if (!p) {
      p = new NodeApiClient(ctx.conn, spec.nodeName)
        .inspectImage(spec.image)
        .then((i) => (i as { Config?: ImageConfigView }).Config)
        .catch(() => undefined);
      cache.set(key, p);
    }
    return p;
  };
}

export async function volumeMountpoints(ctx: DockerContext): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of (await ctx.engine.volumes.listAll({ namespace: ctx.namespace })).items) {
    const mp = (v.status as { mountpoint?: string } | undefined)?.mountpoint;
    if (mp) out[v.metadata.name] = mp;
  }
  return out;
}
