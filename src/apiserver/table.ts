/** Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for. */
import type { KindInfo, PrinterColumn } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import { evaluate } from './jsonpath.js';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions?: TableColumn[];
  rows: { cells: unknown[]; object: unknown }[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Does the Accept header ask for a Table? */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

/** Kubernetes' HumanDuration, as CRD date columns are rendered. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / 24 / 365);
  if (h < 24 * 365 * 8) return `${y}y${Math.floor((h / 24) % 365)}d`;
  return `${y}y`;
}

function cell(obj: ApiObject, col: PrinterColumn, now: number): unknown {
  let values: unknown[];
  try {
    values = evaluate(obj, col.jsonPath);
  } catch {
    return null;
  }
  if (values.length === 0) return null;
  const v = values.length === 1 ? values[0] : values.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  if (col.type === 'date' && typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : humanDuration(now - t);
  }
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return v;
}

export function columnsOf(kind: KindInfo): TableColumn[] {
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...kind.printerColumns.map((c) => ({
      name: c.name,
      type: c.type,
      format: '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
}

function rowObject(obj: ApiObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function toTable(
  kind: KindInfo,
  objects: ApiObject[],
  opts: { include: IncludeObject; withColumns: boolean; metadata?: Table['metadata'] },
): Table {
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: opts.metadata ?? {},
    ...(opts.withColumns ? { columnDefinitions: columnsOf(kind) } : {}),
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...kind.printerColumns.map((c) => cell(o, c, now))],
      object: rowObject(o, opts.include),
    })),
  };
}
