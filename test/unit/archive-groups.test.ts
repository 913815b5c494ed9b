// Which images go into which archive, and in which stage: one image per shared base in stage 1, the others in stage 2
// with their own blobs only; images sharing a blob otherwise stay together; no blob is stored twice; packed largest
// first; the same images give the same archives whatever their order; the default splits only big bundles.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { archiveGroups, DEFAULT_MAX_ARCHIVES, MIN_AUTO_ARCHIVE_BYTES, type ArchiveGroup } from '../../src/core/archive-groups.js';
import type { RegistryImage } from '../../src/core/registry-image.js';
import type { ImageToSave } from '../../src/core/save-archive-layout.js';

const test = suite('archive groups');

const digest = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** An image with config `c-<name>` and the given layers (name, bytes). */
function item(name: string, layers: [string, number][]): ImageToSave {
  const image: RegistryImage = {
    ref: `registry.test/${name}:1`,
    repository: `registry.test/${name}`,
    manifestDigest: digest(`m-${name}`),
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    manifestBytes: Buffer.from(name),
    platform: { os: 'linux', architecture: 'amd64' },
    config: { digest: digest(`c-${name}`), size: 10, mediaType: 'application/vnd.oci.image.config.v1+json' },
    layers: layers.map(([layer, size]) => ({ digest: digest(`l-${layer}`), size, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })),
  };
  return { image, tags: [image.ref] };
}

const short = (group: ArchiveGroup) => group.images.map((entry) => entry.image.ref.replace(/^registry\.test\/|:1$/g, '')).sort();
const layout = (groups: ArchiveGroup[]) => groups.map((group) => [group.stage, ...short(group)]);

/** The blobs an archive stores: every blob of its images but those an earlier stage holds. */
const stored = (group: ArchiveGroup) =>
  new Set(group.images.flatMap((entry) => [entry.image.config.digest, ...entry.image.layers.map((layer) => layer.digest)]).filter((digest) => !group.heldEarlier.has(digest)));

/** What must hold for any grouping: no blob stored twice, and what a stage-2 archive leaves out is a layer prefix stage 1 stores. */
function assertLoadable(groups: ArchiveGroup[]): void {
  const where = new Map<string, number>();
  groups.forEach((group, index) => {
    for (const digest of stored(group)) {
      assert.not.ok(where.has(digest), `${digest} stored in archives ${where.get(digest)} and ${index}`);
      where.set(digest, index);
    }
  });
  for (const group of groups) {
    if (group.heldEarlier.size === 0) continue;
    assert.is(group.stage, 2);
    for (const entry of group.images) {
      const left = entry.image.layers.map((layer) => group.heldEarlier.has(layer.digest));
      assert.ok(left.indexOf(false) === -1 || !left.slice(left.indexOf(false)).includes(true), `${entry.image.ref}: what is left out is a prefix`);
    }
    for (const digest of group.heldEarlier) assert.is(groups[where.get(digest)!]!.stage, 1, `${digest} is in stage 1`);
  }
}

const MB = 1024 * 1024;
// Two families on bases of their own (python and go); `tools` has go-b's top layer on another base (the same layer
// on another parent), and `lone` shares nothing.
const images = [
  item('py-a', [['python', 300 * MB], ['py-a', 50 * MB]]),
  item('py-b', [['python', 300 * MB], ['py-b', 60 * MB]]),
  item('go-a', [['go', 100 * MB], ['go-a', 20 * MB]]),
  item('go-b', [['go', 100 * MB], ['tools', 30 * MB]]),
  item('tools', [['alpine', 5 * MB], ['tools', 30 * MB]]),
  item('lone', [['lone', 80 * MB]]),
];

test('stage 1: one image per shared base, the one with the fewest bytes of its own; stage 2: the rest, with their own blobs only', () => {
  const groups = archiveGroups(images, { maxArchives: 4 });
  // lone needs no base: it fills a lane of stage 1 that would idle.
  assert.equal(layout(groups), [[1, 'py-a'], [1, 'go-a'], [1, 'lone'], [2, 'py-b'], [2, 'go-b', 'tools']]);
  const pyB = groups.find((group) => short(group).includes('py-b'))!;
  assert.equal([...pyB.heldEarlier], [digest('l-python')], 'py-b takes its base from stage 1');
  assert.ok(stored(pyB).has(digest('l-py-b')) && stored(pyB).has(digest('c-py-b')));
  assertLoadable(groups);
});

test('images sharing a layer that is not a common prefix stay in one archive', () => {
  const groups = archiveGroups(images, { maxArchives: 4 });
  const tools = groups.find((group) => short(group).includes('tools'))!;
  assert.equal(short(tools), ['go-b', 'tools']);
});

test('an image whose own layer stage 1 holds on another parent goes to stage 1, with the image that holds it', () => {
  const odd = item('odd', [['odd-base', 7 * MB], ['go-a', 20 * MB]]);
  const groups = archiveGroups([...images, odd], { maxArchives: 4 });
  const withGoA = groups.find((group) => short(group).includes('go-a'))!;
  assert.equal([withGoA.stage, ...short(withGoA)], [1, 'go-a', 'odd']);
  assertLoadable(groups);
});

test('fewer archives than groups: packed largest first into the emptiest, per stage, images needing no base into stage 1 while it is no longer for them; one archive holds everything', () => {
  const two = archiveGroups(images, { maxArchives: 2 });
  assert.equal(layout(two), [[1, 'py-a'], [1, 'go-a', 'lone'], [2, 'py-b'], [2, 'go-b', 'tools']]);
  assertLoadable(two);
  const one = archiveGroups(images, { maxArchives: 1 });
  assert.equal(layout(one), [[1, 'go-a', 'go-b', 'lone', 'py-a', 'py-b', 'tools']]);
  assert.is(one[0]!.heldEarlier.size, 0);
});

test('images that share nothing are all stage 1; one that fits no idle lane of stage 1 waits for stage 2', () => {
  const apart = [item('x', [['x', 10 * MB]]), item('y', [['y', 20 * MB]])];
  assert.equal(layout(archiveGroups(apart, { maxArchives: 4 })), [[1, 'y'], [1, 'x']]);
  const big = item('big', [['big', 500 * MB]]);
  assert.equal(layout(archiveGroups([...images, big], { maxArchives: 4 })), [[1, 'py-a'], [1, 'go-a'], [1, 'lone'], [2, 'big'], [2, 'py-b'], [2, 'go-b', 'tools']]);
});

test('the same images in another order give the same archives, each in the same order', () => {
  const refsOf = (groups: ArchiveGroup[]) => groups.map((group) => [group.stage, group.images.map((entry) => entry.image.ref), [...group.heldEarlier].sort()]);
  assert.equal(refsOf(archiveGroups([...images].reverse(), { maxArchives: 3 })), refsOf(archiveGroups(images, { maxArchives: 3 })));
});

test('by default: one archive per MIN_AUTO_ARCHIVE_BYTES of blobs, at most DEFAULT_MAX_ARCHIVES a stage', () => {
  const small = [item('s1', [['s1', 10 * MB]]), item('s2', [['s2', 10 * MB]])];
  assert.is(archiveGroups(small).length, 1, 'a small bundle stays one archive');
  const two = [item('h1', [['h1', MIN_AUTO_ARCHIVE_BYTES]]), item('h2', [['h2', MIN_AUTO_ARCHIVE_BYTES]])];
  assert.is(archiveGroups(two).length, 2);
  const many = Array.from({ length: 10 }, (_, index) => item(`big${index}`, [[`big${index}`, MIN_AUTO_ARCHIVE_BYTES]]));
  assert.is(archiveGroups(many).length, DEFAULT_MAX_ARCHIVES);
  assert.is(archiveGroups([]).length, 0);
});

test.run();
