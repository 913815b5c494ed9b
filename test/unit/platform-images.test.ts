// A bundle of several platforms, joined for a registry: an upstream index the bundle holds every manifest of is kept
// byte for byte; one that lists more (another platform, a build attestation) becomes an index of the bundle's
// platforms alone; the push sends each blob once, every platform's manifest by digest, then each tag.

import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleImage } from '../../src/core/bundle-layout.js';
import { planImageIndexes, platformManifestLines, platformPushActions, type PlatformImageSet, type ServedIndex } from '../../src/core/platform-images.js';
import type { PushAction } from '../../src/core/registry-push-plan.js';

const test = suite('platform images');
const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const AMD = sha('amd64 manifest');
const ARM = sha('arm64 manifest');
const S390X = sha('s390x manifest');
const ATTESTATION = sha('attestation manifest');

const entry = (digest: string, architecture: string, os = 'linux') => ({ mediaType: MANIFEST, digest, size: 700, platform: { architecture, os } });
function served(manifests: object[]): ServedIndex {
  const text = JSON.stringify({ schemaVersion: 2, mediaType: LIST, manifests }, null, 3);
  return { digest: sha(text), mediaType: LIST, bytes: Buffer.from(text) };
}

function image(bundleRef: string, forPlatform: string, manifestDigest: string, index: ServedIndex | undefined): BundleImage {
  return {
    ref: bundleRef,
    tier: 'install',
    bundleRef,
    pulledFrom: bundleRef,
    digest: index?.digest ?? manifestDigest,
    manifestDigest,
    manifestMediaType: MANIFEST,
    platform: forPlatform,
    imageId: sha(`config ${manifestDigest}`),
    size: 1000,
    locations: [],
    forPlatform,
  };
}

const whole = served([entry(ARM, 'arm64'), entry(AMD, 'amd64')]);
const wider = served([entry(AMD, 'amd64'), entry(ARM, 'arm64'), entry(S390X, 's390x'), entry(ATTESTATION, 'unknown', 'unknown')]);
const SINGLE = sha('single manifest');
const indexes = new Map([
  ['gcr.io/x/whole:1', whole],
  ['gcr.io/x/wide:1', wider],
]);

const blob = (offset: number, digest: string, repositories: string[]): PushAction => ({ kind: 'blob', offset, size: 10, digest, repositories });
const put = (offset: number, digest: string, repository: string, reference: string): PushAction => ({ kind: 'manifest', offset, size: 700, digest, mediaType: MANIFEST, repository, reference });
const SHARED = sha('shared layer');

function sets(): PlatformImageSet[] {
  return ['linux/amd64', 'linux/arm64'].map((platform) => {
    const own = platform === 'linux/amd64' ? AMD : ARM;
    const dir = `images/${platform.replace('/', '-')}`;
    return {
      platform,
      images: [image('gcr.io/x/whole:1', platform, own, whole), image('gcr.io/x/wide:1', platform, own, wider), image('gcr.io/x/single:1', platform, SINGLE, undefined)],
      archives: [
        {
          path: `${dir}/images.tar`,
          push: [
            blob(0, SHARED, ['gcr.io/x/single', 'gcr.io/x/whole']),
            blob(10, sha(`config ${platform}`), ['gcr.io/x/wide']),
            put(20, own, 'gcr.io/x/whole', '1'),
            put(30, own, 'gcr.io/x/wide', '1'),
            put(40, SINGLE, 'gcr.io/x/single', '1'),
          ],
        },
      ],
    };
  });
}

test('an index listing only the bundle\'s platforms is kept as served; one listing more is composed of theirs', () => {
  const planned = planImageIndexes(sets(), (ref) => indexes.get(ref));
  assert.equal(planned.map((index) => index.bundleRef), ['gcr.io/x/whole:1', 'gcr.io/x/wide:1'].sort());
  const kept = planned.find((index) => index.bundleRef === 'gcr.io/x/whole:1')!;
  assert.is(kept.composed, false);
  assert.is(kept.digest, whole.digest);
  assert.is(kept.text, whole.bytes.toString('utf8'));
  assert.is(kept.path, `images/indexes/${whole.digest.slice(7)}.json`);
  const composed = planned.find((index) => index.bundleRef === 'gcr.io/x/wide:1')!;
  assert.is(composed.composed, true);
  assert.is(composed.digest, sha(composed.text), 'named by the digest of its own bytes');
  const json = JSON.parse(composed.text) as { mediaType: string; manifests: { digest: string }[] };
  assert.is(json.mediaType, LIST);
  assert.equal(json.manifests.map((m) => m.digest), [AMD, ARM], 's390x and the attestation left out, the order kept');
  assert.equal(composed.platforms, ['linux/amd64', 'linux/arm64']);
  assert.throws(() => planImageIndexes(sets(), () => undefined), /index of gcr\.io\/x\/\w+:1 was not kept/);
});

test('manifests.txt says what each tag serves once pushed: the kept index, the composed one, or the one manifest', () => {
  const planned = planImageIndexes(sets(), (ref) => indexes.get(ref));
  const lines = platformManifestLines(sets(), planned);
  const of = (ref: string) => lines.find((line) => line.bundleRef === ref)!;
  assert.equal(of('gcr.io/x/whole:1'), { bundleRef: 'gcr.io/x/whole:1', digest: whole.digest, push: 'index', platform: 'linux/arm64,linux/amd64' });
  assert.equal(of('gcr.io/x/wide:1').push, 'composed');
  assert.is(of('gcr.io/x/wide:1').digest, planned.find((index) => index.composed)!.digest);
  assert.equal(of('gcr.io/x/single:1'), { bundleRef: 'gcr.io/x/single:1', digest: SINGLE, push: 'manifest', platform: 'linux/amd64' });
});

test('the push: each blob once with every repository, manifests by digest, then the tags, an index after its children', () => {
  const planned = planImageIndexes(sets(), (ref) => indexes.get(ref));
  const actions = platformPushActions(sets(), planned);
  const blobs = actions.filter(({ action }) => action.kind === 'blob');
  assert.is(blobs.filter(({ action }) => action.digest === SHARED).length, 1, 'a blob both platforms hold goes once');
  assert.is(blobs.find(({ action }) => action.digest === SHARED)!.path, 'images/linux-amd64/images.tar', 'from the first archive that has it');
  assert.is(blobs.length, 3);
  const manifests = actions.filter(({ action }) => action.kind === 'manifest').map(({ path, action }) => ({ path, ...(action as Extract<PushAction, { kind: 'manifest' }>) }));
  const firstTag = manifests.findIndex((m) => !m.reference.startsWith('sha256:'));
  assert.ok(manifests.slice(0, firstTag).every((m) => m.reference === m.digest), 'every child by digest first');
  assert.ok(manifests.slice(firstTag).every((m) => !m.reference.startsWith('sha256:')), 'then only tags');
  assert.equal(
    manifests.slice(0, firstTag).map((m) => `${m.repository}@${m.digest === AMD ? 'amd' : m.digest === ARM ? 'arm' : 'single'}`).sort(),
    ['gcr.io/x/single@single', 'gcr.io/x/whole@amd', 'gcr.io/x/whole@arm', 'gcr.io/x/wide@amd', 'gcr.io/x/wide@arm'].sort(),
    'one manifest both platforms share is put once',
  );
  const tags = manifests.slice(firstTag);
  assert.equal(tags.map((m) => `${m.repository}:${m.reference}`), ['gcr.io/x/single:1', 'gcr.io/x/whole:1', 'gcr.io/x/wide:1'].sort());
  const wide = tags.find((m) => m.repository === 'gcr.io/x/wide')!;
  const composed = planned.find((index) => index.composed)!;
  assert.equal({ path: wide.path, offset: wide.offset, size: wide.size, digest: wide.digest, mediaType: wide.mediaType }, { path: composed.path, offset: 0, size: Buffer.byteLength(composed.text), digest: composed.digest, mediaType: LIST });
  const single = tags.find((m) => m.repository === 'gcr.io/x/single')!;
  assert.equal({ path: single.path, offset: single.offset, digest: single.digest }, { path: 'images/linux-amd64/images.tar', offset: 40, digest: SINGLE });
});

test.run();
