// The archive's layout for registry images: every blob once, in name order, with the lists docker load and ctr import
// read; the same images give the same layout whatever their order; inconsistent input is refused.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalEntry } from '../../src/core/archive-order.js';
import type { RegistryImage } from '../../src/core/registry-image.js';
import { saveArchiveLayout, type ArchiveEntry, type ImageToSave } from '../../src/core/save-archive-layout.js';

const test = suite('save archive layout');

const hex = (char: string) => char.repeat(64);
const digest = (char: string) => `sha256:${hex(char)}`;
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const CONFIG = 'application/vnd.docker.container.image.v1+json';
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** An image whose manifest bytes are a stand-in: the layout copies them, it never parses them. */
function image(ref: string, manifest: string, config: string, layers: [string, number][], extra: Partial<RegistryImage> = {}): RegistryImage {
  return {
    ref,
    repository: ref.replace(/[:@].*$/, ''),
    manifestDigest: digest(manifest),
    manifestMediaType: MANIFEST,
    manifestBytes: Buffer.from(`manifest ${manifest}`),
    platform: { os: 'linux', architecture: 'amd64' },
    config: { digest: digest(config), size: 100, mediaType: CONFIG },
    layers: layers.map(([char, size]) => ({ digest: digest(char), size, mediaType: LAYER })),
    ...extra,
  };
}

// Two images on one base layer (1), each with a layer of its own.
const first = image('registry.test/team/first:1', 'a', 'c', [
  ['1', 1000],
  ['2', 513],
]);
const second = image('registry.test/team/second:2', 'b', 'd', [
  ['1', 1000],
  ['3', 512],
]);
const both: ImageToSave[] = [
  { image: first, tags: ['registry.test/team/first:1'] },
  { image: second, tags: ['registry.test/team/second:2'] },
];

const names = (entries: ArchiveEntry[]) => entries.map((entry) => entry.name);
const text = (entries: ArchiveEntry[], name: string) => {
  const entry = entries.find((candidate) => candidate.name === name);
  assert.ok(entry?.kind === 'inline', `${name} is written from the layout`);
  return entry.data.toString('utf8');
};

test('each blob once, in name order, then the lists', () => {
  const { entries } = saveArchiveLayout(both);
  assert.equal(names(entries), [
    `blobs/sha256/${hex('1')}`,
    `blobs/sha256/${hex('2')}`,
    `blobs/sha256/${hex('3')}`,
    `blobs/sha256/${hex('a')}`,
    `blobs/sha256/${hex('b')}`,
    `blobs/sha256/${hex('c')}`,
    `blobs/sha256/${hex('d')}`,
    'index.json',
    'manifest.json',
    'oci-layout',
  ]);
  const manifest = entries.find((entry) => entry.name.endsWith(hex('a')));
  assert.equal(manifest, { kind: 'inline', name: `blobs/sha256/${hex('a')}`, data: Buffer.from('manifest a'), digest: digest('a'), ref: first.ref });
  const base = entries.find((entry) => entry.name.endsWith(hex('1')));
  assert.equal(base?.kind === 'blob' && { digest: base.digest, size: base.size }, { digest: digest('1'), size: 1000 });
  assert.is(text(entries, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
});

test('manifest.json names config and layers by path, layers in manifest order; index.json points at the manifests', () => {
  const { entries } = saveArchiveLayout(both);
  assert.equal(JSON.parse(text(entries, 'manifest.json')), [
    { Config: `blobs/sha256/${hex('c')}`, RepoTags: ['registry.test/team/first:1'], Layers: [`blobs/sha256/${hex('1')}`, `blobs/sha256/${hex('2')}`] },
    { Config: `blobs/sha256/${hex('d')}`, RepoTags: ['registry.test/team/second:2'], Layers: [`blobs/sha256/${hex('1')}`, `blobs/sha256/${hex('3')}`] },
  ]);
  assert.equal(JSON.parse(text(entries, 'index.json')), {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: MANIFEST,
        digest: digest('a'),
        size: 'manifest a'.length,
        annotations: { 'io.containerd.image.name': 'registry.test/team/first:1', 'org.opencontainers.image.ref.name': '1' },
      },
      {
        mediaType: MANIFEST,
        digest: digest('b'),
        size: 'manifest b'.length,
        annotations: { 'io.containerd.image.name': 'registry.test/team/second:2', 'org.opencontainers.image.ref.name': '2' },
      },
    ],
  });
});

test('the lists are already in the order the tar normaliser gives them', () => {
  const { entries } = saveArchiveLayout(both);
  for (const name of ['index.json', 'manifest.json']) {
    const data = Buffer.from(text(entries, name));
    assert.equal(canonicalEntry(name, data), data, name);
  }
});

test('the archive size counts a header and whole blocks per entry and the two end blocks', () => {
  const { entries, size } = saveArchiveLayout(both);
  const lists = ['index.json', 'manifest.json', 'oci-layout'].map((name) => Buffer.byteLength(text(entries, name)));
  const blocks = (bytes: number) => Math.ceil(bytes / 512) * 512;
  // layers 1000, 513, 512; two manifests of 10 bytes; two configs of 100; the three lists.
  const data = [1000, 513, 512, 10, 10, 100, 100, ...lists].reduce((total, bytes) => total + blocks(bytes), 0);
  assert.is(size, 10 * 512 + data + 1024);
});

test('the same images in another order, or one listed twice, give the same layout', () => {
  const forward = saveArchiveLayout(both);
  const backward = saveArchiveLayout([...both].reverse());
  const repeated = saveArchiveLayout([both[1]!, both[0]!, both[1]!]);
  assert.equal(backward, forward);
  assert.equal(repeated, forward);
});

test('one image under several tags: one manifest.json entry with the tags sorted, one index.json entry per tag', () => {
  const { entries } = saveArchiveLayout([
    { image: first, tags: ['registry.test/team/first:zeta'] },
    { image: { ...first, ref: 'registry.test/team/first@' + digest('a') }, tags: ['registry.test/team/first:sha256-' + hex('a'), 'registry.test/team/first:alpha'] },
  ]);
  const list = JSON.parse(text(entries, 'manifest.json')) as { RepoTags: string[] }[];
  assert.equal(
    list.map((entry) => entry.RepoTags),
    [['registry.test/team/first:alpha', `registry.test/team/first:sha256-${hex('a')}`, 'registry.test/team/first:zeta']],
  );
  const index = JSON.parse(text(entries, 'index.json')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  assert.equal(
    index.manifests.map((entry) => [entry.digest, entry.annotations['io.containerd.image.name']]),
    [
      [digest('a'), 'registry.test/team/first:alpha'],
      [digest('a'), `registry.test/team/first:sha256-${hex('a')}`],
      [digest('a'), 'registry.test/team/first:zeta'],
    ],
  );
});

test('tags are stored normalised, as both loaders name images', () => {
  const { entries } = saveArchiveLayout([{ image: first, tags: ['busybox:1.36', 'ghcr.io/team/tool'] }]);
  const list = JSON.parse(text(entries, 'manifest.json')) as { RepoTags: string[] }[];
  assert.equal(list[0]!.RepoTags, ['docker.io/library/busybox:1.36', 'ghcr.io/team/tool:latest']);
});

test('an image the reference reached through an index: the index is kept as served and index.json points at it', () => {
  const indexBytes = Buffer.from('index e');
  const viaIndex = image('registry.test/team/multi:1', 'a', 'c', [['1', 1000]], { indexDigest: digest('e'), indexBytes, indexMediaType: LIST });
  const { entries } = saveArchiveLayout([{ image: viaIndex, tags: ['registry.test/team/multi:1'] }]);
  assert.equal(
    entries.find((entry) => entry.name === `blobs/sha256/${hex('e')}`),
    { kind: 'inline', name: `blobs/sha256/${hex('e')}`, data: indexBytes, digest: digest('e'), ref: viaIndex.ref },
  );
  assert.ok(names(entries).includes(`blobs/sha256/${hex('a')}`), 'the platform manifest is kept too');
  const index = JSON.parse(text(entries, 'index.json')) as { manifests: { mediaType: string; digest: string; size: number }[] };
  assert.equal(
    index.manifests.map(({ mediaType, digest: target, size }) => ({ mediaType, digest: target, size })),
    [{ mediaType: LIST, digest: digest('e'), size: indexBytes.length }],
  );
  const list = JSON.parse(text(entries, 'manifest.json')) as { Config: string }[];
  assert.is(list[0]!.Config, `blobs/sha256/${hex('c')}`);
});

test('a layer an image lists twice is stored once and listed twice', () => {
  const twice = image('registry.test/team/twice:1', 'a', 'c', [
    ['1', 32],
    ['1', 32],
  ]);
  const { entries } = saveArchiveLayout([{ image: twice, tags: ['registry.test/team/twice:1'] }]);
  assert.is(names(entries).filter((name) => name.endsWith(hex('1'))).length, 1);
  const list = JSON.parse(text(entries, 'manifest.json')) as { Layers: string[] }[];
  assert.equal(list[0]!.Layers, [`blobs/sha256/${hex('1')}`, `blobs/sha256/${hex('1')}`]);
});

test('inconsistent input is refused, naming what is at fault', () => {
  assert.throws(
    () => saveArchiveLayout([{ image: first, tags: ['registry.test/team/first@' + digest('a')] }]),
    /first:1 cannot be named "registry\.test\/team\/first@sha256:a+".*tags, not digests/,
  );
  assert.throws(
    () => saveArchiveLayout([{ image: first, tags: ['registry.test/same:1'] }, { image: second, tags: ['registry.test/same:1'] }]),
    /"registry\.test\/same:1" names both/,
  );
  const resized = image('registry.test/team/third:1', 'f', 'c', [['1', 999]]);
  assert.throws(() => saveArchiveLayout([...both, { image: resized, tags: ['registry.test/team/third:1'] }]), /blob sha256:1+ is 1000 bytes in .* but 999 in/);
  const sha512 = image('registry.test/team/odd:1', 'a', 'c', []);
  sha512.config = { ...sha512.config, digest: `sha512:${'0'.repeat(128)}` };
  assert.throws(() => saveArchiveLayout([{ image: sha512, tags: ['registry.test/team/odd:1'] }]), /sha256 blobs only/);
  assert.throws(() => saveArchiveLayout([{ image: first, tags: [] }]), /no tag/);
  const noBytes = image('registry.test/team/multi:1', 'a', 'c', [], { indexDigest: digest('e') });
  assert.throws(() => saveArchiveLayout([{ image: noBytes, tags: ['registry.test/team/multi:1'] }]), /index sha256:e+ but its bytes are missing/);
});

test.run();
