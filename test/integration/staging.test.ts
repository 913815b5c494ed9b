// The real releases: v1.11.0 and 26.03 name JobSet by a staging image. Without a spec, `images` warns about it with
// the released repository; with the shipped spec (which pulls the released image) it does not. v1.8.1 and v1.10.2
// name no staging registry, and get no such warning.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runKfbundle } from '../helpers/cli.js';
import { KUBEFLOW_FIXTURES, renderedPath } from '../helpers/fixtures.js';
import { REPO_ROOT } from '../helpers/test-env.js';

const test = suite('staging registries in the real releases');
const JOBSET = 'us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset:v0.10.1';

test('v1.11.0 and 26.03 without a spec: JobSet is warned about, with the released image; with the shipped spec it is not', async () => {
  for (const release of ['v1.11.0', '26.03'] as const) {
    const bare = await runKfbundle(['images', '--manifests', renderedPath(release)]);
    assert.is(bare.code, 0, bare.stderr);
    const warnings = bare.stderr.split('\n').filter((line) => line.includes('names a staging registry'));
    assert.is(warnings.length, 1, `${release}: ${warnings.join('\n')}`);
    assert.ok(warnings[0]!.includes(JOBSET) && warnings[0]!.includes('the released image is registry.k8s.io/jobset/jobset:v0.10.1'), warnings[0]);
    const specified = await runKfbundle(['images', '--manifests', renderedPath(release), '--spec', join(REPO_ROOT, `bundle-spec/${release}.yaml`)]);
    assert.is(specified.code, 0, specified.stderr);
    assert.not.match(specified.stderr, /staging registry/);
  }
});

test('v1.8.1 and v1.10.2 name no staging registry', async () => {
  for (const path of [join(KUBEFLOW_FIXTURES, 'v1.8.1/rendered.yaml'), renderedPath('v1.10.2')]) {
    const listed = await runKfbundle(['images', '--manifests', path]);
    assert.is(listed.code, 0, listed.stderr);
    assert.not.match(listed.stderr, /staging registry/, path);
  }
});

test.run();
