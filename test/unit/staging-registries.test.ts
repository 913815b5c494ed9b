// Staging registries: Kubernetes' k8s-staging-* projects (their released images are on registry.k8s.io under the
// project's name) and any *-staging / staging-* repository; names that merely contain the word are not staging.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseImageRef } from '../../src/core/image-ref.js';
import { stagingImage } from '../../src/core/staging-registries.js';

const test = suite('staging registries');
const staging = (ref: string) => stagingImage(parseImageRef(ref));

test('k8s staging projects name their released repository', () => {
  assert.equal(staging('us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset:v0.10.1'), { releasedRepository: 'registry.k8s.io/jobset/jobset' });
  assert.equal(staging('gcr.io/k8s-staging-kueue/kueue:v0.9.0'), { releasedRepository: 'registry.k8s.io/kueue/kueue' });
  assert.equal(staging('gcr.io/k8s-staging-images'), {});
});

test('other staging repositories are staging, with no released one known; look-alikes are not', () => {
  assert.equal(staging('quay.io/acme-staging/app:1'), {});
  assert.equal(staging('registry.example.com/staging/app:1'), {});
  assert.equal(staging('staging.registry.example.com/app:1'), {});
  for (const ref of ['docker.io/library/busybox:1.36', 'ghcr.io/kubeflow/kfp-api-server:2.15.0', 'docker.io/library/stagingarea:1', 'gcr.io/ml-pipeline/frontend:2.0.5', 'registry.k8s.io/jobset/jobset:v0.10.1']) {
    assert.is(staging(ref), undefined, ref);
  }
});

test.run();
