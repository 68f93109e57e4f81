import { describe, expect, it } from 'vitest';
import { cellText, ColumnPrinter, columnsOf, isTable, renderColumns, tableToGrid, type Table } from '../../../src/cli/output/table.js';

const table: Table = {
  kind: 'Table',
  apiVersion: 'meta.k8s.io/v1',
  metadata: { resourceVersion: '7' },
  columnDefinitions: [
    { name: 'Name', type: 'string', priority: 0 },
    { name: 'Image', type: 'string', priority: 0 },
    { name: 'Restarts', type: 'integer', priority: 0 },
    { name: 'IP', type: 'string', priority: 1 },
  ],
  rows: [
    { cells: ['web', 'busybox:latest', 0, '10.0.0.2'], object: { metadata: { name: 'web', namespace: 'default' } } },
    { cells: ['db', 'postgres', null, undefined], object: { metadata: { name: 'db', namespace: 'team-a' } } },
  ],
};

describe('tableToGrid', () => {
  it('shows priority 0 columns by default and all with wide', () => {
    expect(tableToGrid(table, { wide: false, withNamespace: false })).toEqual({
      headers: ['NAME', 'IMAGE', 'RESTARTS'],
      rows: [
        ['web', 'busybox:latest', '0'],
        ['db', 'postgres', '<none>'],
      ],
    });
    expect(tableToGrid(table, { wide: true, withNamespace: false }).headers).toEqual(['NAME', 'IMAGE', 'RESTARTS', 'IP']);
  });

  it('puts a NAMESPACE column first from the row objects', () => {
    const grid = tableToGrid(table, { wide: false, withNamespace: true });
    expect(grid.headers[0]).toBe('NAMESPACE');
    expect(grid.rows.map((r) => r[0])).toEqual(['default', 'team-a']);
  });

  it('uses earlier column definitions for watch events that carry none', () => {
    const event: Table = { kind: 'Table', rows: [{ cells: ['x', 'img', 1, 'ip'] }] };
    expect(isTable(event)).toBe(true);
    expect(columnsOf(event, table.columnDefinitions ?? [])).toBe(table.columnDefinitions);
    expect(tableToGrid(event, { wide: false, withNamespace: false }, table.columnDefinitions ?? []).rows).toEqual([['x', 'img', '1']]);
  });
});

describe('rendering', () => {
  it('aligns like kubectl: columns at least 10 wide, 3 spaces of padding, last column unpadded', () => {
    const lines = renderColumns(['NAME', 'IMAGE', 'AGE'], [
      ['web', 'busybox:latest', '5m'],
      ['a-much-longer-name', 'x', '10s'],
    ]);
    expect(lines).toEqual([
      'NAME                 IMAGE            AGE',
      'web                  busybox:latest   5m',
      'a-much-longer-name   x                10s',
    ]);
  });

  it('cellText prints <none> for missing values and the first line of multi-line strings', () => {
    expect(cellText(null)).toBe('<none>');
    expect(cellText('')).toBe('<none>');
    expect(cellText(true)).toBe('true');
    expect(cellText('one\ntwo')).toBe('one');
    expect(cellText({ a: 1 })).toBe('{"a":1}');
  });

  it('ColumnPrinter keeps widths across prints and widens when a later row needs it', () => {
    const out: string[] = [];
    const p = new ColumnPrinter((l) => out.push(l));
    p.print(['NAME', 'AGE'], [['web', '1s']]);
    p.print(undefined, [['a-very-long-name-indeed', '2s']]);
    p.print(undefined, [['web', '3s']]);
    expect(out).toEqual(['NAME      AGE', 'web       1s', 'a-very-long-name-indeed   2s', 'web                       3s']);
  });
});
