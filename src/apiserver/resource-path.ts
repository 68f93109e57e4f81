/** Map a request path onto a kind, a namespace, a name and a subresource. */
import type { KindInfo } from '../api/kind.js';

export interface ResourceTarget {
  kind: KindInfo;
  /** '' for cluster-scoped kinds and for all-namespace collections. */
  namespace: string;
  name?: string;
  subresource?: string;
}

/**
 * segments: what follows /api/v1 or /apis/GROUP/VERSION, e.g.
 * ['namespaces','default','containers','web','status'] or ['containers'] or ['namespaces','default'].
 */
export function resolveTarget(kinds: KindInfo[], group: string, version: string, segments: string[]): ResourceTarget | undefined {
  const inGv = kinds.filter((k) => k.group === group && k.version === version);
  const byPlural = (p: string | undefined) => inGv.find((k) => k.plural === p);
  const [a, b, c, d, e, ...rest] = segments;
  if (rest.length > 0 || a === undefined) return undefined;
  if (a === 'namespaces' && b !== undefined && c !== undefined) {
    const nsKind = byPlural(c);
    if (nsKind?.namespaced) return { kind: nsKind, namespace: b, ...(d !== undefined ? { name: d } : {}), ...(e !== undefined ? { subresource: e } : {}) };
    if (e !== undefined || d !== undefined) return undefined;
  }
  const kind = byPlural(a);
  if (!kind || segments.length > 3) return undefined;
  if (kind.namespaced) {
    // Only the all-namespaces collection is addressable without a namespace.
    return b === undefined ? { kind, namespace: '' } : undefined;
  }
  return { kind, namespace: '', ...(b !== undefined ? { name: b } : {}), ...(c !== undefined ? { subresource: c } : {}) };
}
