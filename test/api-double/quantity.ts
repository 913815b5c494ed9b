// Kubernetes resource quantities (`250m`, `1.5Gi`, `2e3`, `128974848`) as numbers, the way the scheduler compares
// them: CPU in millicores and everything else in whole units, each rounded up as resource.Quantity rounds.

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
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

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity in base units (cores, bytes); throws on text that is no quantity, as the API server rejects it. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = QUANTITY.exec(value.trim());
  if (match === null) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  const number = Number(match[1]);
  if (match[2] !== undefined) return number * 10 ** Number(match[2].slice(1));
  return number * SUFFIXES[match[3] ?? '']!;
}

/** What a resource of this name amounts to in the scheduler's units: millicores for cpu, whole units otherwise. */
export function resourceAmount(resource: string, value: string | number): number {
  const amount = parseQuantity(value) * (resource === 'cpu' ? 1000 : 1);
  // A tiny epsilon keeps 0.1 * 1000 from rounding up to 101.
  return Math.ceil(amount - 1e-9);
}

/** Millicores as kubectl describe writes them: `2`, `1500m`. */
export function formatMilliCpu(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
