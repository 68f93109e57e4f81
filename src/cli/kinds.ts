import { CliError } from './errors.js';

/** What the CLI needs to know about a resource type; KindInfo and discovery both provide it. */
export interface ResourceRef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
}

export function apiVersionOfRef(r: Pick<ResourceRef, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `containers.berth.dev`, `namespaces`: how Kubernetes names a resource in messages. */
export function qualifiedResource(r: Pick<ResourceRef, 'group' | 'plural'>): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** `container.berth.dev`, `namespace`: the prefix of kubectl's `-o name` and apply/delete lines. */
export function qualifiedKind(r: Pick<ResourceRef, 'group' | 'kind'>): string {
  const kind = r.kind.toLowerCase();
  return r.group ? `${kind}.${r.group}` : kind;
}

function names(r: ResourceRef): string[] {
  return [r.plural, r.singular, r.kind, ...r.shortNames].map((n) => n.toLowerCase());
}

/**
 * Finds the resource a KIND argument names: plural, singular, kind or short name, any case,
 * optionally qualified as `name.group` or `name.version.group` (e.g. `containers.berth.dev`).
 * Returns undefined when nothing matches.
 */
export function findResource(arg: string, resources: readonly ResourceRef[]): ResourceRef | undefined {
  const lower = arg.trim().toLowerCase();
  if (!lower) return undefined;
  const dot = lower.indexOf('.');
  const name = dot < 0 ? lower : lower.slice(0, dot);
  const rest = dot < 0 ? undefined : lower.slice(dot + 1);
  const candidates = resources.filter((r) => names(r).includes(name));
  if (rest === undefined) {
    // Prefer an exact plural/singular match over a short name, as kubectl does.
    return candidates.find((r) => r.plural.toLowerCase() === name || r.singular.toLowerCase() === name) ?? candidates[0];
  }
  return candidates.find((r) => {
    const group = r.group.toLowerCase();
    if (rest === group) return true;
    const vdot = rest.indexOf('.');
    const version = vdot < 0 ? rest : rest.slice(0, vdot);
    const g = vdot < 0 ? '' : rest.slice(vdot + 1);
    return version === r.version.toLowerCase() && g === group;
  });
}

export function resolveResource(arg: string, resources: readonly ResourceRef[]): ResourceRef {
  const found = findResource(arg, resources);
  if (!found) throw new CliError(`the server doesn't have a resource type "${arg}"`);
  return found;
}

/** The resource for a manifest's apiVersion + kind. */
export function findByKind(apiVersion: string, kind: string, resources: readonly ResourceRef[]): ResourceRef | undefined {
  return resources.find((r) => apiVersionOfRef(r) === apiVersion && r.kind === kind);
}

/** `KIND NAME...` or `KIND/NAME ...` as kubectl takes them. */
export function splitTypeAndNames(positionals: readonly string[]): { kind: string; names: string[] }[] {
  if (positionals.length === 0) return [];
  const first = positionals[0] as string;
  if (!first.includes('/')) return [{ kind: first, names: positionals.slice(1) }];
  const groups = new Map<string, string[]>();
  for (const p of positionals) {
    const slash = p.indexOf('/');
    if (slash <= 0 || slash === p.length - 1) {
      throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got "${p}")`);
    }
    const kind = p.slice(0, slash);
    const list = groups.get(kind) ?? [];
    list.push(p.slice(slash + 1));
    groups.set(kind, list);
  }
  return [...groups.entries()].map(([kind, names]) => ({ kind, names }));
}

/** `/apis/berth.dev/v1alpha1[/namespaces/NS]/containers[/NAME]`. */
export function resourcePath(r: ResourceRef, namespace?: string, name?: string): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name !== undefined ? `/${encodeURIComponent(name)}` : '';
  return `${root}${ns}/${r.plural}${tail}`;
}
