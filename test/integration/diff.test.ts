// kfbundle diff on the real releases: v1.10.2 against v1.11.0, rendered with upstream's own command. The facts
// asserted were read off the two files by hand (grep): Katib moved from v0.18.0 to v0.19.0, the training operator v1
// gave way to Trainer v2 with its CRDs, and the v1 job CRDs left.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleDiff } from '../../src/core/bundle-diff.js';
import { runKfbundle } from '../helpers/cli.js';
import { renderedPath } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/tmp.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';

const test = suite('kfbundle diff');

test('v1.10.2 → v1.11.0: images moved, added and removed, CRDs added and removed, as text and JSON', async () => {
  const text = await runKfbundle(['diff', renderedPath('v1.10.2'), renderedPath('v1.11.0')]);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /^  ~ ghcr\.io\/kubeflow\/katib\/katib-controller:v0\.18\.0 -> v0\.19\.0$/m);
  assert.match(text.stdout, /^  \+ ghcr\.io\/kubeflow\/trainer\/trainer-controller-manager:v2\.1\.0  \(install\)$/m);
  assert.match(text.stdout, /^  - ghcr\.io\/kubeflow\/training-v1\/training-operator:v1-3f15cb8  \(install\)$/m);
  assert.match(text.stdout, /^  \+ trainjobs\.trainer\.kubeflow\.org  \(v1alpha1\)$/m);
  assert.match(text.stdout, /^  - pytorchjobs\.kubeflow\.org  \(v1\)$/m);

  const json = await runKfbundle(['diff', renderedPath('v1.10.2'), renderedPath('v1.11.0'), '--json']);
  const diff = JSON.parse(json.stdout) as BundleDiff;
  assert.ok(diff.images.changed.some((change) => change.from.ref === 'ghcr.io/kubeflow/kfp-api-server:2.5.0' && change.to.ref === 'ghcr.io/kubeflow/kfp-api-server:2.15.0' && change.why === 'tag'));
  assert.ok(!diff.images.added.some((image) => image.ref.startsWith('ghcr.io/kubeflow/katib/')), 'a moved tag is a change, not an addition');
  assert.equal(diff.crds!.removed.map((crd) => crd.name).filter((name) => name.endsWith('jobs.kubeflow.org')).sort(), ['jaxjobs', 'mpijobs', 'paddlejobs', 'pytorchjobs', 'tfjobs', 'xgboostjobs'].map((kind) => `${kind}.kubeflow.org`));
  // Diffing a release with itself finds nothing.
  const same = JSON.parse((await runKfbundle(['diff', renderedPath('v1.11.0'), renderedPath('v1.11.0'), '--json'])).stdout) as BundleDiff;
  assert.equal([same.images.added.length, same.images.removed.length, same.images.changed.length, same.crds!.added.length, same.crds!.changed.length], [0, 0, 0, 0, 0]);
});

test('a bundle.json alone has no CRDs to compare, and says so; a side that is neither is refused', async () => {
  await withTempDir(async (dir) => {
    const bundle = join(dir, 'bundle');
    await buildWithFakeStore(renderedPath('v1.10.2'), bundle);
    const text = await runKfbundle(['diff', join(bundle, 'bundle.json'), renderedPath('v1.11.0')]);
    assert.is(text.code, 0, text.stderr);
    assert.match(text.stdout, /crds       not known \(a bundle\.json alone holds no manifests/);
    const fromDirectory = await runKfbundle(['diff', bundle, renderedPath('v1.11.0')]);
    assert.match(fromDirectory.stdout, /crds       5 added, 6 removed, 0 changed/);
    const missing = await runKfbundle(['diff', join(dir, 'nothing-here.yaml'), renderedPath('v1.11.0')]);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, /nothing-here\.yaml: no such file or directory/);
  });
});

test.run();
