/** Numeric value of a Kubernetes quantity (see meta.quantity): '500m' -> 0.5, '512Mi' -> 536870912. */

const suffixes: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Throws on input meta.quantity would reject. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw new Error(`invalid quantity ${q}`);
    return q;
  }
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  if (!m) throw new Error(`invalid quantity ${JSON.stringify(q)}: expected a number with an optional suffix such as 500m, 2, 512Mi`);
  return Number(m[1]) * (suffixes[m[2] ?? ''] ?? 1);
}

/** CPU quantity in millicores, rounded up: '1.5' -> 1500, '250m' -> 250. */
export function cpuMillis(q: string | number): number {
  return Math.ceil(parseQuantity(q) * 1000 - 1e-9);
}

/** Byte (or count) quantity as an integer, rounded up: '512Mi' -> 536870912, '1k' -> 1000. */
export function quantityInt(q: string | number): number {
  return Math.ceil(parseQuantity(q) - 1e-9);
}
