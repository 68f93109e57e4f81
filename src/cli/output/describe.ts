/** kubectl-describe-like text for any object: metadata, spec and status blocks, conditions and events. */
import { ageOf } from './age.js';

type Obj = Record<string, unknown>;

const ACRONYMS = new Set(['id', 'ip', 'ips', 'uid', 'url', 'api', 'cpu', 'dns', 'tcp', 'udp', 'http', 'https', 'tls', 'oci', 'pid', 'pids', 'cidr', 'gid', 'sha']);
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function isObj(x: unknown): x is Obj {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

/** `observedGeneration` → `Observed Generation`, `containerID` → `Container ID`; other keys (labels, paths) stay as they are. */
export function labelFor(key: string): string {
  if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) return key;
  const words = key.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+/g) ?? [key];
  return words
    .map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(' ');
}

function scalar(v: unknown): string {
  if (v === null || v === undefined || v === '') return '<none>';
  if (typeof v === 'string') return v;
  return String(v);
}

/** Lines for a map at `indent`, values of scalar siblings aligned. */
function mapLines(map: Obj, indent: number, out: string[]): void {
  const entries = Object.entries(map).filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...entries.filter(([, v]) => !isComplex(v)).map(([k]) => labelFor(k).length + 1));
  for (const [k, v] of entries) valueLines(labelFor(k), v, indent, width, out);
}

function isComplex(v: unknown): boolean {
  return (isObj(v) && Object.keys(v).length > 0) || (Array.isArray(v) && v.length > 0);
}

function valueLines(label: string, v: unknown, indent: number, width: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  if (!isComplex(v)) {
    const shown = isObj(v) || Array.isArray(v) ? '<none>' : scalar(v);
    const text = shown.includes('\n') ? `|\n${shown.split('\n').map((l) => `${pad}  ${l}`).join('\n')}` : shown;
    out.push(`${pad}${`${label}:`.padEnd(width)}  ${text}`);
    return;
  }
  out.push(`${pad}${label}:`);
  if (isObj(v)) {
    mapLines(v, indent + 2, out);
    return;
  }
  for (const item of v as unknown[]) {
    if (isObj(item) && Object.keys(item).length > 0) {
      const inner: string[] = [];
      mapLines(item, 0, inner);
      inner.forEach((line, i) => out.push(`${pad}  ${i === 0 ? '- ' : '  '}${line}`));
    } else if (Array.isArray(item) && item.length > 0) {
      out.push(`${pad}  - ${JSON.stringify(item)}`);
    } else {
      out.push(`${pad}  ${scalar(isComplex(item) ? JSON.stringify(item) : item)}`);
    }
  }
}

function pairs(map: unknown, skip: readonly string[] = []): string[] {
  if (!isObj(map)) return [];
  return Object.entries(map)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${scalar(v)}`);
}

function withAge(ts: unknown, now: number): string {
  return typeof ts === 'string' && ts ? `${ts} (${ageOf(ts, now)} ago)` : '<unknown>';
}

/** Columns with describe's spacing (padding 2, no minimum width). */
function describeColumns(headers: string[], rows: string[][], indent: number): string[] {
  const all = [headers, headers.map((h) => '-'.repeat(h.length)), ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)) + 2);
  return all.map((r) => ' '.repeat(indent) + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('').trimEnd());
}

export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingController?: string;
  series?: { count?: number; lastObservedTime?: string };
  metadata?: { creationTimestamp?: string };
}

function eventTime(e: EventLike): string | undefined {
  return e.series?.lastObservedTime || e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp;
}

export function eventRows(events: readonly EventLike[], now: number): string[][] {
  const sorted = [...events].sort((a, b) => (Date.parse(eventTime(a) ?? '') || 0) - (Date.parse(eventTime(b) ?? '') || 0));
  return sorted.map((e) => {
    const count = e.series?.count ?? e.count ?? 1;
    const last = ageOf(eventTime(e), now);
    const first = e.firstTimestamp || e.eventTime || e.metadata?.creationTimestamp;
    const age = count > 1 && first ? `${last} (x${count} over ${ageOf(first, now)})` : last;
    const from = e.source?.component
      ? `${e.source.component}${e.source.host ? `, ${e.source.host}` : ''}`
      : e.reportingController || e.reportingComponent || '';
    return [e.type ?? '', e.reason ?? '', age, from, (e.message ?? '').trim()];
  });
}

export interface DescribeInput {
  object: Obj;
  /** undefined: events could not be read (the reason is shown). */
  events: readonly EventLike[] | undefined;
  eventsError?: string;
  now?: number;
}

export function describeObject({ object, events, eventsError, now = Date.now() }: DescribeInput): string {
  const meta = isObj(object.metadata) ? object.metadata : {};
  const top: [string, string][] = [];
  const multi = (label: string, values: string[]) => {
    if (values.length === 0) top.push([label, '<none>']);
    else values.forEach((val, i) => top.push([i === 0 ? label : '', val]));
  };
  top.push(['Name:', scalar(meta.name)]);
  if (typeof meta.namespace === 'string' && meta.namespace) top.push(['Namespace:', meta.namespace]);
  multi('Labels:', pairs(meta.labels));
  multi('Annotations:', pairs(meta.annotations, [LAST_APPLIED]));
  top.push(['API Version:', scalar(object.apiVersion)]);
  top.push(['Kind:', scalar(object.kind)]);
  top.push(['Created:', withAge(meta.creationTimestamp, now)]);
  if (meta.deletionTimestamp) top.push(['Deleting Since:', withAge(meta.deletionTimestamp, now)]);
  if (Array.isArray(meta.finalizers) && meta.finalizers.length > 0) top.push(['Finalizers:', meta.finalizers.map(String).join(', ')]);
  if (Array.isArray(meta.ownerReferences)) {
    multi(
      'Owners:',
      meta.ownerReferences.filter(isObj).map((o) => `${scalar(o.kind)}/${scalar(o.name)}${o.controller ? ' (controller)' : ''}`),
    );
  }
  if (meta.generation !== undefined) top.push(['Generation:', scalar(meta.generation)]);
  top.push(['Resource Version:', scalar(meta.resourceVersion)]);
  top.push(['UID:', scalar(meta.uid)]);
  const width = Math.max(...top.map(([l]) => l.length)) + 2;
  const out = top.map(([l, val]) => `${l.padEnd(width)}${val}`);

  for (const [key, value] of Object.entries(object)) {
    if (['apiVersion', 'kind', 'metadata'].includes(key) || value === undefined) continue;
    if (key === 'status' && isObj(value)) {
      const { conditions: _conditions, ...rest } = value;
      if (Object.keys(rest).length > 0) valueLines('Status', rest, 0, 0, out);
      continue;
    }
    valueLines(labelFor(key), value, 0, 0, out);
  }

  const status = isObj(object.status) ? object.status : {};
  if (Array.isArray(status.conditions) && status.conditions.length > 0) {
    out.push('Conditions:');
    const rows = status.conditions
      .filter(isObj)
      .map((c) => [scalar(c.type), scalar(c.status), scalar(c.reason), typeof c.lastTransitionTime === 'string' ? ageOf(c.lastTransitionTime, now) : '<unknown>', typeof c.message === 'string' ? c.message : '']);
    out.push(...describeColumns(['Type', 'Status', 'Reason', 'Age', 'Message'], rows, 2));
  }

  if (events === undefined) out.push(`Events:  <unavailable: ${eventsError ?? 'could not list events'}>`);
  else if (events.length === 0) out.push('Events:  <none>');
  else {
    out.push('Events:');
    out.push(...describeColumns(['Type', 'Reason', 'Age', 'From', 'Message'], eventRows(events, now), 2));
  }
  return `${out.join('\n')}\n`;
}
