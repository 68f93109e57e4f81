/**
 * Docker's list filters: the API's `filters` JSON ({"label":["a=b"]} or the old {"label":{"a=b":true}})
 * and the CLI's repeated --filter KEY=VALUE, both into one map, and the container filters of
 * docker ps (id, name, label, status, exited, ancestor, volume, network, before, since).
 */
import type { KObject } from '../api-client.js';
import { DockerError, dockerIdOf, dockerLabelsOf, dockerNameOf, objectNameFor } from './names.js';
import { dockerState } from './views.js';
import { networksOf } from './networks.js';

export type Filters = Record<string, string[]>;

/** KEY=VALUE flags (-l, -o, --label, --opt) as a map; a bare KEY is KEY="". */
export function keyValues(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list ?? []) {
    const eq = l.indexOf('=');
    out[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

export function parseFiltersJson(raw: string | null | undefined): Filters {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DockerError(`invalid filter: ${raw.slice(0, 200)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DockerError('invalid filter: want a JSON object');
  const out: Filters = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.entries(v as Record<string, unknown>).filter(([, on]) => on === true).map(([x]) => x);
    else throw new DockerError(`invalid filter '${k}': want a list of values`);
  }
  return out;
}

export function parseFilterFlags(flags: readonly string[] | undefined): Filters {
  const out: Filters = {};
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new DockerError(`bad format of filter (expected name=value): ${f}`);
    (out[f.slice(0, eq).toLowerCase()] ??= []).push(f.slice(eq + 1));
  }
  return out;
}

const CONTAINER_FILTERS = ['id', 'name', 'label', 'status', 'exited', 'ancestor', 'volume', 'network', 'before', 'since', 'health', 'is-task'];
const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** A label filter's value: KEY (present) or KEY=VALUE (equal). */
export function labelMatch(labels: Record<string, string>, want: string): boolean {
  const eq = want.indexOf('=');
  if (eq < 0) return want in labels;
  return labels[want.slice(0, eq)] === want.slice(eq + 1);
}

/** Keeps the containers every filter key matches (any of its values), as docker ps does. */
export function filterContainers(items: KObject[], f: Filters, all: readonly KObject[] = items): KObject[] {
  for (const key of Object.keys(f)) if (!CONTAINER_FILTERS.includes(key)) throw new DockerError(`invalid filter '${key}'`);
  for (const s of f.status ?? []) if (!STATES.includes(s)) throw new DockerError(`invalid filter 'status=${s}'`);
  const byRef = (ref: string) => all.find((c) => dockerNameOf(c) === ref || dockerIdOf(c).startsWith(ref));
  return items.filter((c) => {
    const spec = (c.spec ?? {}) as { image?: string; volumeMounts?: { name?: string; hostPath?: string; mountPath: string }[]; network?: string };
    const s = (c.status ?? {}) as { exitCode?: number };
    const checks: Record<string, (v: string) => boolean> = {
      id: (v) => dockerIdOf(c).startsWith(v),
      name: (v) => dockerNameOf(c).includes(v.replace(/^\//, '')) || c.metadata.name.includes(v),
      label: (v) => labelMatch(dockerLabelsOf(c), v),
      status: (v) => dockerState(c) === v,
      exited: (v) => dockerState(c) === 'exited' && String(s.exitCode ?? 0) === v,
      ancestor: (v) => spec.image === v || spec.image === `${v}:latest` || `${spec.image}:latest` === v,
      volume: (v) => (spec.volumeMounts ?? []).some((m) => m.name === v || m.hostPath === v || m.mountPath === v),
      network: (v) => networksOf(c).includes(v) || networksOf(c).includes(objectNameFor(v)),
      before: (v) => {
        const ref = byRef(v);
        return ref !== undefined && (c.metadata.creationTimestamp ?? '') < (ref.metadata.creationTimestamp ?? '');
      },
      since: (v) => {
        const ref = byRef(v);
        return ref !== undefined && (c.metadata.creationTimestamp ?? '') > (ref.metadata.creationTimestamp ?? '');
      },
      health: () => false,
      'is-task': (v) => v === 'false',
    };
    // as docker: several label filters must all match; several values of another key, any of them
    return Object.entries(f).every(([k, values]) => values.length === 0 || (k === 'label' ? values.every((v) => checks[k]!(v)) : values.some((v) => checks[k]!(v))));
  });
}
