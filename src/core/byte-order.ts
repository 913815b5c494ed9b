// One order for strings wherever the bundle's bytes depend on it (file lists, push plans, layouts): by UTF-16 code
// unit, as C's sort does for ASCII, never by locale, so every machine writes the same bytes. A leaf.

export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
