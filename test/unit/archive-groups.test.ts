// Which images go into which archive: images that share a blob (even through a third image) stay together, so every
// archive loads on its own and no blob is stored twice; groups are packed largest first; the same images give the
// same archives whatever their order; the default splits only bundles big enough to gain from parallel loads.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { archiveGroups, DEFAULT_MAX_ARCHIVES, MIN_AUTO_ARCHIVE_BYTES } from '../../src/core/archive-groups.js';
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

const refs = (groups: ImageToSave[][]) => groups.map((group) => group.map((entry) => entry.image.ref.replace(/^registry\.test\/|:1$/g, '')).sort());

/** Every blob of every group, to check none is in two. */
const blobs = (group: ImageToSave[]) => new Set(group.flatMap((entry) => [entry.image.config.digest, ...entry.image.layers.map((layer) => layer.digest)]));

const MB = 1024 * 1024;
// Two families on bases of their own (python and go), one image joined to the go family through a shared layer only
// with its second image, and one image alone.
const images = [
  item('py-a', [['python', 300 * MB], ['py-a', 50 * MB]]),
  item('py-b', [['python', 300 * MB], ['py-b', 60 * MB]]),
  item('go-a', [['go', 100 * MB], ['go-a', 20 * MB]]),
  item('go-b', [['go', 100 * MB], ['tools', 30 * MB]]),
  item('tools', [['alpine', 5 * MB], ['tools', 30 * MB]]),
  item('lone', [['lone', 80 * MB]]),
];

test('images that share a blob, directly or through another image, stay in one archive; no blob is in two', () => {
  const groups = archiveGroups(images, { maxArchives: 4 });
  assert.equal(refs(groups), [['py-a', 'py-b'], ['go-a', 'go-b', 'tools'], ['lone']]);
  const seen = groups.map(blobs);
  for (const [index, set] of seen.entries()) {
    for (const other of seen.slice(index + 1)) for (const blob of set) assert.not.ok(other.has(blob), `${blob} in two archives`);
  }
});

test('fewer archives than groups: packed largest first into the emptiest, largest archive first', () => {
  assert.equal(refs(archiveGroups(images, { maxArchives: 2 })), [['py-a', 'py-b'], ['go-a', 'go-b', 'lone', 'tools']]);
  assert.equal(refs(archiveGroups(images, { maxArchives: 1 })), [['go-a', 'go-b', 'lone', 'py-a', 'py-b', 'tools']]);
});

test('the same images in another order give the same archives, each in the same order', () => {
  const forward = archiveGroups(images, { maxArchives: 3 });
  const backward = archiveGroups([...images].reverse(), { maxArchives: 3 });
  assert.equal(backward.map((group) => group.map((entry) => entry.image.ref)), forward.map((group) => group.map((entry) => entry.image.ref)));
});

test('by default: one archive per MIN_AUTO_ARCHIVE_BYTES of blobs, at most DEFAULT_MAX_ARCHIVES', () => {
  const small = [item('s1', [['s1', 10 * MB]]), item('s2', [['s2', 10 * MB]])];
  assert.is(archiveGroups(small).length, 1, 'a small bundle stays one archive');
  const two = [item('h1', [['h1', MIN_AUTO_ARCHIVE_BYTES]]), item('h2', [['h2', MIN_AUTO_ARCHIVE_BYTES]])];
  assert.is(archiveGroups(two).length, 2);
  const many = Array.from({ length: 10 }, (_, index) => item(`big${index}`, [[`big${index}`, MIN_AUTO_ARCHIVE_BYTES]]));
  assert.is(archiveGroups(many).length, DEFAULT_MAX_ARCHIVES);
  assert.is(archiveGroups([]).length, 0);
});

test.run();
