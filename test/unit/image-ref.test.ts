import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleRefFor, defaultsToAlwaysPull, formatImageRef, parseImageRef, pullRefFor } from '../../src/core/image-ref.js';
import { KfbundleError } from '../../src/core/errors.js';

const test = suite('image references');
const DIGEST = 'sha256:698ef80ebc698f4d2bb93c1e85684063a0cf253a83faebcbf106cee444181d8e';

const normalised: [string, string][] = [
  ['busybox', 'docker.io/library/busybox:latest'],
  ['busybox:1.28', 'docker.io/library/busybox:1.28'],
  ['mysql:8.0.29', 'docker.io/library/mysql:8.0.29'],
  ['kserve/sklearnserver:v0.15.0', 'docker.io/kserve/sklearnserver:v0.15.0'],
  ['docker.io/seldonio/mlserver:1.5.0', 'docker.io/seldonio/mlserver:1.5.0'],
  ['index.docker.io/library/python:3.12', 'docker.io/library/python:3.12'],
  ['gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance', 'gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance'],
  ['localhost:5000/a/b', 'localhost:5000/a/b:latest'],
  ['127.0.0.1:5000/gcr.io/x/y:1', '127.0.0.1:5000/gcr.io/x/y:1'],
  [`gcr.io/knative-releases/knative.dev/serving/cmd/queue@${DIGEST}`, `gcr.io/knative-releases/knative.dev/serving/cmd/queue@${DIGEST}`],
  [`nginx:1.25@${DIGEST}`, `docker.io/library/nginx:1.25@${DIGEST}`],
  ['us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset:v0.10.1', 'us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset:v0.10.1'],
];

for (const [raw, expected] of normalised) {
  test(`normalises ${raw}`, () => {
    assert.is(formatImageRef(parseImageRef(raw)), expected);
  });
}

const invalid = ['', '{{ .ProxyImage }}', 'Busybox:1', 'gcr.io/x/y:', 'a b', 'x@sha256:short', 'gcr.io//x', 'ghcr.io/kubeflow/katib/:v1'];
for (const raw of invalid) {
  test(`rejects ${JSON.stringify(raw)} naming it`, () => {
    try {
      parseImageRef(raw);
      assert.unreachable('should throw');
    } catch (error) {
      assert.instance(error, KfbundleError);
      assert.is((error as KfbundleError).code, 'IMAGE_REF_INVALID');
      assert.match((error as Error).message, JSON.stringify(raw.trim()).slice(1, -1) || 'empty');
    }
  });
}

test('kubelet pulls Always for :latest and untagged refs without a digest', () => {
  assert.ok(defaultsToAlwaysPull('busybox'));
  assert.ok(defaultsToAlwaysPull('gcr.io/x/y:latest'));
  assert.not.ok(defaultsToAlwaysPull('busybox:1.28'));
  assert.not.ok(defaultsToAlwaysPull(`busybox@${DIGEST}`));
  assert.not.ok(defaultsToAlwaysPull(`busybox:latest@${DIGEST}`));
});

test('digest pins are stored under a tag derived from the digest and pulled by digest alone', () => {
  const pinned = parseImageRef(`nginx:1.25@${DIGEST}`);
  assert.is(bundleRefFor(pinned), `docker.io/library/nginx:${DIGEST.replace(':', '-')}`);
  assert.is(pullRefFor(pinned), `docker.io/library/nginx@${DIGEST}`);
  assert.ok(bundleRefFor(pinned).split(':').at(-1)!.length <= 128, 'within the tag length limit');
  const tagged = parseImageRef('mysql:8.0.29');
  assert.is(bundleRefFor(tagged), 'docker.io/library/mysql:8.0.29');
  assert.is(pullRefFor(tagged), 'docker.io/library/mysql:8.0.29');
});

test.run();
