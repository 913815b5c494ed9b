// Kubernetes resource quantities (`250m`, `1.5`, `128Mi`, `1G`, `2e3`) as whole numbers: CPU in millicores, memory
// in bytes, so requests can be summed exactly and compared in shell arithmetic by the installer.

const SUFFIXES: Record<string, number> = {
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$/;

/** The quantity's value in its base unit (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  const match = QUANTITY.exec(text.trim());
  if (match === null) return undefined;
  const [, number, exponent, suffix] = match;
  const value = Number(number) * (exponent === undefined ? SUFFIXES[suffix ?? '']! : 10 ** Number(exponent.slice(1)));
  return Number.isFinite(value) ? value : undefined;
}

/** CPU in millicores, rounded up as the API server rounds a request below 1m. */
export function cpuMillis(text: string | number): number | undefined {
  const cores = parseQuantity(text);
  return cores === undefined ? undefined : Math.ceil(Math.round(cores * 1e6) / 1e3);
}

/** Memory in bytes, rounded up. */
export function memoryBytes(text: string | number): number | undefined {
  const bytes = parseQuantity(text);
  return bytes === undefined ? undefined : Math.ceil(bytes);
}

/** `4`, `5.3` or `250m` CPU, as install.sh's preflight writes them. */
export function formatCpu(millis: number): string {
  if (millis % 1000 === 0) return String(millis / 1000);
  return millis >= 1000 ? (millis / 1000).toFixed(1) : `${millis}m`;
}

/** Mebibytes or gibibytes, as `kubectl describe node` shows memory. */
export function formatMemory(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${Number(gib.toFixed(1))}Gi` : `${Math.ceil(bytes / 2 ** 20)}Mi`;
}
