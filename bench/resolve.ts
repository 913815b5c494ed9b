// Times resolving each real Kubeflow release: parse the rendered YAML, discover every image, apply the bundle spec.
// Run: node --import tsx bench/resolve.ts
// Prints medians of 5 runs, the ratio to the 1.5 s target, and JSON.parse of the same objects as a same-process
// baseline (how far YAML parsing is from free).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseBundleSpec } from '../src/core/bundle-spec.js';
import { discoverImages } from '../src/core/discover-images.js';
import { parseManifests } from '../src/core/k8s-object.js';
import { resolveImages } from '../src/core/resolve-images.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FIXTURES = `${ROOT}../shared/fixtures/kubeflow/`;
const RUNS = 5;
const TARGET_MS = 1500;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

for (const release of ['26.03', 'v1.11.0', 'v1.10.2']) {
  const text = await readFile(`${FIXTURES}${release}/rendered.yaml`, 'utf8');
  const spec = parseBundleSpec(await readFile(`${ROOT}bundle-spec/${release}.yaml`, 'utf8'), release);
  const parse: number[] = [];
  const discover: number[] = [];
  const total: number[] = [];
  const baseline: number[] = [];
  let json = '';
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const objects = parseManifests(text, release);
    const parsed = performance.now();
    resolveImages(discoverImages(objects), spec);
    const done = performance.now();
    parse.push(parsed - start);
    discover.push(done - parsed);
    total.push(done - start);
    json ||= JSON.stringify(objects);
    const b = performance.now();
    JSON.parse(json);
    baseline.push(performance.now() - b);
  }
  console.log(
    `${release.padEnd(8)} ${(text.length / 1e6).toFixed(1)} MB  resolve ${median(total).toFixed(0)} ms ` +
      `(parse ${median(parse).toFixed(0)}, discover+spec ${median(discover).toFixed(0)})  ` +
      `${(median(total) / TARGET_MS).toFixed(2)}x of the 1.5 s target  ` +
      `parse/JSON.parse ${(median(parse) / median(baseline)).toFixed(1)}x`,
  );
}
