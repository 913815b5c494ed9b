// The golden view of a bundle plan for a real release: the plan's small text files whole, and for the large phase
// manifests one line an object with its digest, plus every edited object whole, so a change to what a bundle contains
// is a diff a reviewer can read. Written by `npm run golden:update`, compared by test/unit/bundle-plan-golden.test.ts.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_FILES, type BundleImage } from '../../src/core/bundle-layout.js';
import { planBundle, type BundlePlan } from '../../src/core/bundle-plan.js';
import { bundleRefFor } from '../../src/core/image-ref.js';
import { resolveRelease } from '../../src/core/resolve-release.js';
import { readShippedSpec } from '../../src/io/bundle-spec-file.js';
import { readInstallerTemplate } from '../../src/version.js';
import { REPO_ROOT } from './test-env.js';

export { KUBEFLOW_FIXTURES as FIXTURES } from './fixtures.js';
import { KUBEFLOW_FIXTURES as FIXTURES } from './fixtures.js';
export const GOLDEN_DIR = join(REPO_ROOT, 'test/golden');

export interface GoldenCase {
  /** Directory name under test/golden/. */
  name: string;
  release: string;
  registry?: string;
  /** Whether install.sh is kept whole here; elsewhere files.tsv's digest of it is enough (the template is shared). */
  installer?: boolean;
}

export const GOLDEN_CASES: readonly GoldenCase[] = [
  { name: 'v1.8.1', release: 'v1.8.1' },
  { name: 'v1.10.2', release: 'v1.10.2', installer: true },
  { name: 'v1.10.2-registry', release: 'v1.10.2', registry: 'harbor.example.cn/kubeflow' },
  { name: 'v1.11.0', release: 'v1.11.0' },
  { name: '26.03', release: '26.03' },
];

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Pulled-image facts that do not depend on any engine: each image's digest and ID derive from its reference, so the
 * plan of the same release is the same on every machine.
 */
function standInImages(plan: ReturnType<typeof resolveRelease>): BundleImage[] {
  return plan.resolution.images
    .filter((image) => image.included)
    .map((image) => ({
      ref: image.ref,
      tier: image.tier,
      bundleRef: bundleRefFor(image.parsed),
      pulledFrom: image.ref,
      digest: image.parsed.digest ?? `sha256:${digest(`manifest ${image.ref}`)}`,
      ...(image.parsed.digest === undefined ? {} : { pinnedDigest: image.parsed.digest }),
      imageId: `sha256:${digest(`config ${image.ref}`)}`,
      size: 1000,
      locations: image.locations.map((location) => ({ object: location.object, path: location.path })),
    }));
}

export async function planFor(goldenCase: GoldenCase): Promise<BundlePlan> {
  const path = join(FIXTURES, goldenCase.release, 'rendered.yaml');
  const text = await readFile(path, 'utf8');
  // v1.8.1 has no curated spec (issue 17 will decide its defaults): its plan is the one without a spec.
  const spec = goldenCase.release === 'v1.8.1' ? undefined : await readShippedSpec(goldenCase.release);
  const release = resolveRelease(text, 'rendered.yaml', spec);
  const images = standInImages(release);
  return planBundle({
    release,
    rendered: { kind: 'file', description: 'rendered.yaml', text },
    images,
    // The archives are the save's to lay out; one stands for them.
    archives: images.length === 0 ? [] : [{ stage: 1, path: BUNDLE_FILES.imagesTar }],
    options: { mirrors: [], spec, registry: goldenCase.registry },
    tool: { version: '0.0.0-golden', installerTemplate: await readInstallerTemplate() },
  });
}

/** The golden files of one plan: path under the case's directory -> text. */
export function goldenFiles(plan: BundlePlan, goldenCase: GoldenCase): Map<string, string> {
  const files = new Map<string, string>();
  const large = (path: string) => path.endsWith('.yaml') || (path === BUNDLE_FILES.installer && goldenCase.installer !== true);
  files.set('files.tsv', plan.files.map((file) => `${file.path}\t${file.size}\t${file.sha256}${file.executable ? '\texecutable' : ''}\n`).join(''));
  for (const file of plan.files) if (!large(file.path)) files.set(`bundle/${file.path}`, file.text);
  let phases = '';
  for (const phase of plan.phases) {
    phases += `## ${phase.name}: ${phase.why}\n`;
    for (const object of plan.objects.filter((o) => o.phase === phase.name)) {
      phases += `${object.name}\t${digest(object.text).slice(0, 16)}${object.edited ? '\tedited' : ''}\n`;
    }
  }
  files.set('phases.txt', phases);
  files.set('changes.tsv', plan.changes.map((c) => `${c.object}\t${c.path}\t${c.from ?? '(unset)'}\t${c.to}\n`).join(''));
  files.set(
    'edited-objects.yaml',
    plan.objects
      .filter((object) => object.edited)
      .map((object) => `# ${object.phase} ${object.name}\n${object.text}`)
      .join('---\n'),
  );
  files.set('bundle.json', `${JSON.stringify(plan.metadata, null, 2)}\n`);
  return files;
}
