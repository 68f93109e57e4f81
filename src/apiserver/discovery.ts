/** Discovery documents: /api, /apis, group and group-version resource lists, /version. */
import type { KindInfo } from '../api/kind.js';
import { BERTH_VERSION } from '../util/version.js';

export { BERTH_VERSION };

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: '32',
    gitVersion: `v1.32.0+berth-${BERTH_VERSION}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '2026-11-24T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function groupVersions(kinds: KindInfo[]): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const k of kinds) seen.set(`${k.group}/${k.version}`, { group: k.group, version: k.version });
  return [...seen.values()];
}

export function apiVersions(): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
}

function apiGroup(group: string, versions: string[]): object {
  const gvs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: gvs, preferredVersion: gvs[0] };
}

/** `extra`: group-versions served without stored kinds (authorization.k8s.io/v1). */
export function apiGroupList(kinds: KindInfo[], extra: { group: string; version: string }[] = []): object {
  const byGroup = new Map<string, string[]>();
  for (const gv of [...groupVersions(kinds), ...extra]) {
    if (gv.group === '') continue;
    byGroup.set(gv.group, [...(byGroup.get(gv.group) ?? []), gv.version]);
  }
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...byGroup].map(([g, vs]) => apiGroup(g, vs)) };
}

export function apiGroupDoc(kinds: KindInfo[], group: string, extraVersions: string[] = []): object | undefined {
  const versions = [
    ...groupVersions(kinds)
      .filter((gv) => gv.group === group)
      .map((gv) => gv.version),
    ...extraVersions,
  ];
  return versions.length > 0 ? apiGroup(group, versions) : undefined;
}

/** The subresources a kind serves, with their verbs (status and finalize from its strategy; log, exec... with the agent). */
export type SubresourceVerbs = Record<string, readonly string[]>;

export function apiResourceList(kinds: KindInfo[], group: string, version: string, subresources: (k: KindInfo) => SubresourceVerbs): object | undefined {
  const mine = kinds.filter((k) => k.group === group && k.version === version);
  if (mine.length === 0) return undefined;
  const resources: object[] = [];
  for (const k of mine) {
    resources.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
      ...(k.categories.length ? { categories: k.categories } : {}),
    });
    for (const [sub, verbs] of Object.entries(subresources(k))) {
      resources.push({ name: `${k.plural}/${sub}`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
