/**
 * The subset of Kubernetes JSONPath used by printer columns:
 * .a.b, .a[0], .a[*].b, .a[?(@.type=="Ready")].status
 */
import { isObject } from './objects.js';

type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; value: string } };

function parse(expr: string): Step[] {
  const src = expr.trim().replace(/^\{(.*)\}$/, '$1').trim();
  const steps: Step[] = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\*\]|\[\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*==\s*["']([^"']*)["']\)\]/y;
  let pos = 0;
  while (pos < src.length) {
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new Error(`unsupported JSONPath "${expr}" at ${pos}`);
    if (m[1] !== undefined) steps.push({ field: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) steps.push({ filter: { path: m[3].slice(1).split('.'), value: m[4] ?? '' } });
    else steps.push({ all: true });
    pos = re.lastIndex;
  }
  return steps;
}

const cache = new Map<string, Step[]>();

/** All values the expression selects (empty when nothing matches). Throws on unsupported syntax. */
export function evaluate(obj: unknown, expr: string): unknown[] {
  let steps = cache.get(expr);
  if (!steps) {
    steps = parse(expr);
    cache.set(expr, steps);
  }
  let cur: unknown[] = [obj];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if ('field' in s) {
        if (isObject(v) && v[s.field] !== undefined) next.push(v[s.field]);
      } else if ('index' in s) {
        if (Array.isArray(v) && s.index < v.length) next.push(v[s.index]);
      } else if ('all' in s) {
        if (Array.isArray(v)) next.push(...v);
      } else if (Array.isArray(v)) {
        for (const item of v) {
          let x: unknown = item;
          for (const p of s.filter.path) x = isObject(x) ? x[p] : undefined;
          if (x !== undefined && String(x) === s.filter.value) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}
