// Times reading and resolving each real Kubeflow release: YAML parse, pod-template discovery, and patching.
// Run: node --import tsx bench/resolve.ts   (prints the median of 5 runs per release, and the ratio to JSON.parse of the
// same objects as a same-process baseline for "how far from free is YAML parsing").

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { collectInstallImages } from '../src/core/install-images.js';
import { parseManifests } from '../src/core/k8s-object.js';
import { patchManifests } from '../src/core/patch-manifests.js';

const FIXTURES = fileURLToPath(new URL('../../shared/fixtures/kubeflow/', import.meta.url));
const RUNS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

for (const release of ['26.03', 'v1.11.0', 'v1.10.2']) {
  const text = await readFile(`${FIXTURES}${release}/rendered.yaml`, 'utf8');
  const parse: number[] = [];
  const resolve: number[] = [];
  const baseline: number[] = [];
  let json = '';
  for (let run = 0; run < RUNS; run++) {
    let started = performance.now();
    const objects = parseManifests(text, release);
    parse.push(performance.now() - started);
    started = performance.now();
    collectInstallImages(objects);
    patchManifests(objects, { imageRewrites: new Map() });
    resolve.push(performance.now() - started);
    json ||= JSON.stringify(objects);
    started = performance.now();
    JSON.parse(json);
    baseline.push(performance.now() - started);
  }
  const mb = text.length / 1e6;
  console.log(
    `${release.padEnd(8)} ${mb.toFixed(1)} MB  parse ${median(parse).toFixed(0)} ms  ` +
      `discover+patch ${median(resolve).toFixed(0)} ms  JSON.parse baseline ${median(baseline).toFixed(0)} ms  ` +
      `parse/baseline ${(median(parse) / median(baseline)).toFixed(1)}x`,
  );
}
