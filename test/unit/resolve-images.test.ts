// Images the user names (`build --image`, `--image-list`): bundled whatever the tiers, normalised, merged with the
// release's own finding of the same image, and a bad list line named by file and line.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isKfbundleError } from '../../src/core/errors.js';
import { parseImageList } from '../../src/core/image-list.js';
import { resolveRelease } from '../../src/core/resolve-release.js';

const test = suite('added images');

const RELEASE = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: kubeflow}
spec: {template: {spec: {containers: [{name: a, image: "gcr.io/x/a:1"}]}}}
`;

test('a list: one reference a line, comments and blank lines skipped, references normalised', () => {
  assert.equal(parseImageList('# base images\npython:3.12\n\n  gcr.io/x/a:1   # also the release\'s\n', 'list.txt'), [
    { ref: 'docker.io/library/python:3.12', from: 'list.txt line 2' },
    { ref: 'gcr.io/x/a:1', from: 'list.txt line 4' },
  ]);
  try {
    parseImageList('python:3.12\nNot A Reference\n', 'list.txt');
    assert.unreachable('accepted');
  } catch (error) {
    assert.ok(isKfbundleError(error) && error.code === 'USAGE');
    assert.match((error as Error).message, 'list.txt line 2: invalid image reference "Not A Reference"');
  }
});

test('added images are bundled whatever the tiers, beside the release or alone', () => {
  const added = parseImageList('python:3.12\ngcr.io/x/a:1\n', 'list.txt');
  const beside = resolveRelease(RELEASE, 'rendered.yaml', undefined, ['catalog'], added).resolution.images;
  const python = beside.find((image) => image.ref === 'docker.io/library/python:3.12')!;
  assert.is(python.included, true, 'bundled though catalog alone was asked for');
  assert.is(python.why, 'named with list.txt line 1');
  const release = beside.find((image) => image.ref === 'gcr.io/x/a:1')!;
  assert.is(release.included, true);
  assert.equal(release.locations.map((location) => location.via), ['pod-template', 'added']);
  const alone = resolveRelease('', 'add-on images', undefined, undefined, added);
  assert.equal(alone.objects, []);
  assert.equal(alone.resolution.images.map((image) => `${image.ref} ${image.included}`), ['docker.io/library/python:3.12 true', 'gcr.io/x/a:1 true']);
});

test.run();
