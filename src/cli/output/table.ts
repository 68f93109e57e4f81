/** Aligned columns as kubectl prints them (its tabwriter: min width 10, padding 3, last column unpadded). */

const MIN_WIDTH = 10;
const PADDING = 3;

export interface TableColumnDefinition {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
}

export interface TableRow {
  cells: unknown[];
  object?: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };
}

/**
 * meta.k8s.io/v1 Table, as the server answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
 * Watch events after the first one leave out columnDefinitions, as Kubernetes does.
 */
export interface Table {
  kind: 'Table';
  apiVersion?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  columnDefinitions?: TableColumnDefinition[] | null;
  rows: TableRow[];
}

export function isTable(x: unknown): x is Table {
  const t = x as Partial<Table> | undefined;
  return !!t && t.kind === 'Table' && Array.isArray(t.rows) && (t.columnDefinitions == null || Array.isArray(t.columnDefinitions));
}

/** The table's own columns, else the ones an earlier table of the same stream gave. */
export function columnsOf(table: Table, earlier: readonly TableColumnDefinition[] = []): readonly TableColumnDefinition[] {
  return table.columnDefinitions && table.columnDefinitions.length > 0 ? table.columnDefinitions : earlier;
}

export function cellText(v: unknown): string {
  if (v === null || v === undefined || v === '') return '<none>';
  if (typeof v === 'string') return v.split(/[\r\n\f]/)[0] ?? '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export interface GridOptions {
  /** Include columns with priority > 0 (`-o wide`). */
  wide: boolean;
  /** Prepend a NAMESPACE column taken from each row's object (`-A`). */
  withNamespace: boolean;
}

export interface Grid {
  headers: string[];
  rows: string[][];
}

/** Picks the visible columns of a server Table and turns its cells into text. */
export function tableToGrid(table: Table, opts: GridOptions, earlierColumns: readonly TableColumnDefinition[] = []): Grid {
  const visible = columnsOf(table, earlierColumns)
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => opts.wide || !c.priority || c.priority <= 0);
  const headers = visible.map(({ c }) => c.name.toUpperCase());
  const rows = table.rows.map((r) => visible.map(({ i }) => cellText(r.cells[i])));
  if (!opts.withNamespace) return { headers, rows };
  return {
    headers: ['NAMESPACE', ...headers],
    rows: rows.map((cells, i) => [table.rows[i]?.object?.metadata?.namespace || '<none>', ...cells]),
  };
}

function widthsOf(lines: readonly (readonly string[])[], previous: readonly number[] = []): number[] {
  const widths = [...previous];
  for (const line of lines) {
    line.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, Math.max(cell.length + PADDING, MIN_WIDTH));
    });
  }
  return widths;
}

function formatLine(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('');
}

/** Renders a header and rows as aligned lines (no trailing newline handling: one string per line). */
export function renderColumns(headers: readonly string[] | undefined, rows: readonly (readonly string[])[]): string[] {
  const all = headers ? [headers, ...rows] : rows;
  const widths = widthsOf(all);
  return all.map((cells) => formatLine(cells, widths));
}

/**
 * Keeps column widths across several prints (`get -w`): rows that arrive later line up with the
 * first table, and widen a column when they must.
 */
export class ColumnPrinter {
  private widths: number[] = [];

  constructor(private readonly write: (line: string) => void) {}

  print(headers: readonly string[] | undefined, rows: readonly (readonly string[])[]): void {
    const all = headers ? [headers, ...rows] : rows;
    this.widths = widthsOf(all, this.widths);
    for (const cells of all) this.write(formatLine(cells, this.widths));
  }
}
