// Which supported release is newest: upstream moved from semantic versions (v1.11.0) to dates (26.03).

/** Sort key: date-named releases come after every v1.x release. */
function releaseKey(tag: string): number[] {
  const dated = /^(\d{2})\.(\d{2})(?:\.(\d+))?$/.exec(tag);
  if (dated !== null) return [1, Number(dated[1]), Number(dated[2]), Number(dated[3] ?? 0)];
  const semver = /^v?(\d+)\.(\d+)\.(\d+)/.exec(tag);
  if (semver !== null) return [0, Number(semver[1]), Number(semver[2]), Number(semver[3])];
  return [-1];
}

export function compareReleases(a: string, b: string): number {
  const ka = releaseKey(a);
  const kb = releaseKey(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export function newestRelease(tags: readonly string[]): string | undefined {
  return [...tags].sort(compareReleases).at(-1);
}
