// A delta bundle's rules, by content and never by name: a layer the base recorded is held; an image whose manifest the
// base holds is held whole even when the base recorded no layers; a new tag of identical content is taken from the
// base, a changed image under the same tag is not; each base image the delta relies on is named once, with why.

import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleImage } from '../../src/core/bundle-layout.js';
import { baseContent, deltaRecord, heldLayers, parseBaseMetadata } from '../../src/core/delta-base.js';
import { isKfbundleError } from '../../src/core/errors.js';

const test = suite('delta bundles');
const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const [BASE_LAYER, APP_V1, APP_V2, OTHER] = ['base layer', 'app v1', 'app v2', 'other'].map(sha) as [string, string, string, string];

function image(bundleRef: string, layers: string[], extra: Partial<BundleImage> = {}): BundleImage {
  const manifestDigest = sha(`manifest ${layers.join(' ')}`);
  return {
    ref: bundleRef,
    tier: 'install',
    bundleRef,
    pulledFrom: bundleRef,
    digest: manifestDigest,
    manifestDigest,
    platform: 'linux/amd64',
    imageId: sha(`config ${layers.join(' ')}`),
    size: 1,
    locations: [],
    layers,
    ...extra,
  };
}

const baseJson = (images: BundleImage[]) =>
  JSON.stringify({ formatVersion: 2, contentDigest: 'f'.repeat(64), input: { name: 'rendered.yaml' }, resolution: { spec: 'v1.10.2' }, platform: 'linux/amd64', images });

test('the base bundle.json: its images with their content, and its release by spec', () => {
  const base = parseBaseMetadata(baseJson([image('gcr.io/x/app:1', [BASE_LAYER, APP_V1])]), 'old');
  assert.is(base.release, 'v1.10.2');
  assert.is(base.contentDigest, 'f'.repeat(64));
  assert.equal(base.images[0]!.layers, [BASE_LAYER, APP_V1]);
  assert.is(base.images[0]!.platform, 'linux/amd64');
  const refused = (text: string) => {
    try {
      parseBaseMetadata(text, 'old/bundle.json');
    } catch (error) {
      assert.ok(isKfbundleError(error) && error.code === 'USAGE');
      return (error as Error).message;
    }
    throw new Error('accepted');
  };
  assert.match(refused('{'), '--since old/bundle.json: not valid JSON');
  assert.match(refused('{"images": []}'), 'not a kfbundle bundle.json');
  const engine = { ...image('gcr.io/x/app:1', []), manifestDigest: undefined, layers: undefined };
  assert.match(refused(baseJson([engine as unknown as BundleImage])), 'built through an engine');
});

test('held layers: those the base recorded, or every layer of a manifest the base holds', () => {
  const recorded = baseContent(parseBaseMetadata(baseJson([image('gcr.io/x/app:1', [BASE_LAYER, APP_V1])]), 'old'));
  const changed = image('gcr.io/x/app:2', [BASE_LAYER, APP_V2]);
  assert.equal(heldLayers({ manifestDigest: changed.manifestDigest!, layers: changed.layers!.map((digest) => ({ digest })) }, recorded), [BASE_LAYER]);
  // A base from before layers were recorded: only a manifest it holds says which layers the target has.
  const old = image('gcr.io/x/app:1', [BASE_LAYER, APP_V1], { layers: undefined } as Partial<BundleImage>);
  delete (old as Partial<BundleImage>).layers;
  const unrecorded = baseContent(parseBaseMetadata(baseJson([old]), 'old'));
  const same = image('gcr.io/x/app:1', [BASE_LAYER, APP_V1]);
  assert.equal(heldLayers({ manifestDigest: same.manifestDigest!, layers: same.layers!.map((digest) => ({ digest })) }, unrecorded), [BASE_LAYER, APP_V1]);
  assert.equal(heldLayers({ manifestDigest: changed.manifestDigest!, layers: changed.layers!.map((digest) => ({ digest })) }, unrecorded), []);
});

test('a new tag of the same content is the base\'s; a changed image under the same tag relies on the base for shared layers only', () => {
  const baseApp = image('gcr.io/x/app:1', [BASE_LAYER, APP_V1]);
  const baseTool = image('gcr.io/x/tool:1', [BASE_LAYER, OTHER]);
  const base = parseBaseMetadata(baseJson([baseApp, baseTool]), 'old');
  const retagged = image('gcr.io/x/app:1-renamed', [BASE_LAYER, APP_V1]);
  const changed = image('gcr.io/x/tool:1', [BASE_LAYER, APP_V2]);
  const fresh = image('gcr.io/x/new:1', [sha('fresh')]);
  const record = deltaRecord([retagged, changed, fresh], base);
  assert.equal(record.taken, ['gcr.io/x/app:1-renamed'], 'by content, not by name');
  assert.equal(
    record.uses.map((use) => `${use.bundleRef} ${use.use} for ${use.for.join(',')}`).sort(),
    ['gcr.io/x/app:1 same for gcr.io/x/app:1-renamed,gcr.io/x/tool:1'],
    'the first base image with the shared layer, named once, its strongest use kept',
  );
  assert.is(record.release, 'v1.10.2');
  // An image of another platform than the base's is never matched.
  const arm = deltaRecord([{ ...retagged, forPlatform: 'linux/arm64' }], base);
  assert.equal(arm.taken, []);
});

test.run();
