// Pod-template discovery and manifest patching on the three real Kubeflow releases.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collectInstallImages } from '../../src/core/install-images.js';
import { parseManifestDocuments, parseManifests, serializeDocuments, type KubernetesObject, type ManifestDocument } from '../../src/core/k8s-object.js';
import { patchManifests } from '../../src/core/patch-manifests.js';
import { findPodTemplateContainers } from '../../src/core/pod-images.js';
import { defaultsToAlwaysPull } from '../../src/core/image-ref.js';
import { readRendered, RELEASES, type Release } from '../helpers/fixtures.js';

const test = suite('real Kubeflow releases');
const parsed = new Map<Release, KubernetesObject[]>();
const documents = new Map<Release, ManifestDocument[]>();
const texts = new Map<Release, string>();

test.before(async () => {
  for (const release of RELEASES) {
    const text = await readRendered(release);
    texts.set(release, text);
    documents.set(release, parseManifestDocuments(text, `${release}/rendered.yaml`));
    parsed.set(release, documents.get(release)!.flatMap((document) => document.objects));
  }
});

// Object counts and distinct pod-template images as the fixtures' README and the discovery issue state them.
const EXPECTED: Record<Release, { objects: number; podImages: number }> = {
  '26.03': { objects: 675, podImages: 53 },
  'v1.11.0': { objects: 653, podImages: 52 },
  'v1.10.2': { objects: 611, podImages: 51 },
};

for (const release of RELEASES) {
  test(`${release}: every object parsed and every distinct pod-template image found`, () => {
    const objects = parsed.get(release)!;
    assert.is(objects.length, EXPECTED[release].objects);
    assert.is(collectInstallImages(objects).length, EXPECTED[release].podImages);
  });

  test(`${release}: unedited documents are written back byte for byte`, () => {
    const docs = documents.get(release)!;
    assert.is(serializeDocuments(docs, parsed.get(release)!), texts.get(release)!);
  });

  test(`${release}: patching changes only pull policies and pinned images, and survives a YAML round trip`, () => {
    const objects = parsed.get(release)!;
    const patched = patchManifests(objects, { imageRewrites: new Map() });
    const reparsed = parseManifests(serializeDocuments(documents.get(release)!, patched.objects), 'patched');
    assert.equal(reparsed, patched.objects);
    for (const container of findPodTemplateContainers(reparsed)) {
      const policy = container.container['imagePullPolicy'];
      assert.is.not(policy, 'Always', `${container.object} ${container.path}`);
      if (policy === undefined) assert.not.ok(defaultsToAlwaysPull(container.image), `${container.object} would pull Always`);
    }
    for (const change of patched.changes) assert.match(change.path, /imagePullPolicy$/);
    assert.ok(patched.changes.length > 0, 'real releases do ask for Always somewhere');
    // The input objects are untouched.
    assert.ok(findPodTemplateContainers(objects).some((c) => c.container['imagePullPolicy'] === 'Always'));
  });
}

test('v1.10.2: the Knative digest pins are rewritten to their bundle tags', () => {
  const objects = parsed.get('v1.10.2')!;
  const pinned = collectInstallImages(objects).filter((image) => image.parsed.digest !== undefined);
  assert.ok(pinned.length >= 6, `found ${pinned.length} pinned`);
  const rewrites = new Map(pinned.map((image) => [image.ref, `${image.ref.split('@')[0]}:${image.parsed.digest!.replace(':', '-')}`]));
  const patched = patchManifests(objects, { imageRewrites: rewrites });
  const images = findPodTemplateContainers(patched.objects).map((c) => c.image);
  assert.not.ok(images.some((image) => image.includes('@sha256:')));
  for (const target of rewrites.values()) assert.ok(images.includes(target), target);
});

test.run();
