import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { servedDigest, type RegistryImage } from '../../src/core/registry-image.js';
import { MEDIA_TYPES } from '../../src/core/registry-paths.js';
import {
  platformOfMachine,
  samePlatform,
  configPlatform,
  formatPlatform,
  ManifestFormatError,
  manifestMediaType,
  offeredPlatforms,
  parseManifest,
  parsePlatform,
  selectPlatform,
  type IndexEntry,
} from '../../src/core/registry-manifest.js';

const test = suite('registry manifests');
const d = (c: string) => `sha256:${c.repeat(64)}`;
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

test('reads a Docker schema 2 manifest: config and layers in order', () => {
  const parsed = parseManifest(
    bytes({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, size: 1469, digest: d('a') },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 100, digest: d('b') },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 0, digest: d('c') },
      ],
    }),
  );
  assert.equal(parsed, {
    kind: 'image',
    mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: MEDIA_TYPES.dockerConfig, size: 1469, digest: d('a') },
    layers: [
      { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 100, digest: d('b') },
      { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 0, digest: d('c') },
    ],
  });
});

test('an OCI manifest or index without a mediaType field is known by its shape', () => {
  const manifest = { schemaVersion: 2, config: { mediaType: MEDIA_TYPES.ociConfig, size: 2, digest: d('a') }, layers: [] };
  assert.is(parseManifest(bytes(manifest)).mediaType, MEDIA_TYPES.ociManifest);
  const index = { schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, size: 10, digest: d('a'), platform: { os: 'linux', architecture: 'amd64' } }] };
  const parsed = parseManifest(bytes(index));
  assert.is(parsed.kind, 'index');
  assert.is(parsed.mediaType, MEDIA_TYPES.ociIndex);
  // The Content-Type decides only when the JSON says nothing.
  assert.is(manifestMediaType({}, `${MEDIA_TYPES.dockerManifestList}; charset=utf-8`), MEDIA_TYPES.dockerManifestList);
  assert.is(manifestMediaType({ mediaType: MEDIA_TYPES.dockerManifest }, MEDIA_TYPES.ociIndex), MEDIA_TYPES.dockerManifest);
});

test('refuses schema 1, unknown types, bad digests and bad sizes, naming the problem', () => {
  const cases: [unknown, RegExp][] = [
    [{ schemaVersion: 1, name: 'x', fsLayers: [] }, /schema 1/],
    [{ mediaType: 'application/vnd.example+json' }, /unsupported manifest media type application\/vnd\.example\+json/],
    [{ mediaType: MEDIA_TYPES.dockerManifest, config: { size: 1, digest: 'md5:abc' }, layers: [] }, /config has no valid digest/],
    [{ mediaType: MEDIA_TYPES.dockerManifest, config: { size: 1, digest: d('a') }, layers: [{ size: -1, digest: d('b') }] }, /layers\[0\] has no valid size/],
    [{ mediaType: MEDIA_TYPES.dockerManifest, config: { size: 1, digest: d('a') } }, /no "layers" array/],
    // Upper-case hex is not a canonical digest.
    [{ mediaType: MEDIA_TYPES.ociIndex, manifests: [{ size: 1, digest: `sha256:${'A'.repeat(64)}` }] }, /manifests\[0\] has no valid digest/],
  ];
  for (const [json, message] of cases) {
    try {
      parseManifest(bytes(json));
      assert.unreachable(JSON.stringify(json));
    } catch (error) {
      assert.instance(error, ManifestFormatError);
      assert.match((error as Error).message, message);
    }
  }
  assert.throws(() => parseManifest(Buffer.from('<html>')), /not JSON/);
});

const entry = (digest: string, platform?: IndexEntry['platform']): IndexEntry => ({ digest, size: 1, mediaType: MEDIA_TYPES.ociManifest, platform });

test('picks the platform from a list as docker pull does', () => {
  const manifests = [
    entry(d('1'), { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(d('2'), { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(d('3'), { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(d('4'), { os: 'unknown', architecture: 'unknown' }),
    entry(d('5'), { os: 'linux', architecture: 'amd64' }),
    entry(d('6'), { os: 'windows', architecture: 'amd64' }),
    entry(d('7'), undefined),
  ];
  assert.is(selectPlatform(manifests, { os: 'linux', architecture: 'amd64' })?.digest, d('5'));
  assert.is(selectPlatform(manifests, { os: 'linux', architecture: 'arm64' })?.digest, d('3'));
  assert.is(selectPlatform(manifests, parsePlatform('linux/arm64/v8'))?.digest, d('3'));
  assert.is(selectPlatform(manifests, parsePlatform('linux/aarch64'))?.digest, d('3'));
  assert.is(selectPlatform(manifests, parsePlatform('linux/arm'))?.digest, d('2'));
  assert.is(selectPlatform(manifests, parsePlatform('linux/arm/v6'))?.digest, d('1'));
  assert.is(selectPlatform(manifests, parsePlatform('windows/amd64'))?.digest, d('6'));
  assert.is(selectPlatform(manifests, parsePlatform('linux/s390x')), undefined);
  assert.equal(offeredPlatforms(manifests), ['linux/arm/v6', 'linux/arm/v7', 'linux/arm64/v8', 'linux/amd64', 'windows/amd64']);
});

test('the first of two matching entries wins', () => {
  const manifests = [entry(d('1'), { os: 'linux', architecture: 'amd64' }), entry(d('2'), { os: 'linux', architecture: 'amd64', variant: 'v1' })];
  assert.is(selectPlatform(manifests, { os: 'linux', architecture: 'amd64' })?.digest, d('1'));
});

test('platform strings', () => {
  assert.equal(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('Linux/ARM64/V8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
  for (const bad of ['linux', 'linux/', '/amd64', 'linux/amd64/v1/x', 'linux/am d64']) assert.throws(() => parsePlatform(bad), /invalid platform/);
});

test('the platform an image config declares', () => {
  assert.equal(configPlatform(bytes({ os: 'linux', architecture: 'arm64', variant: 'v8', rootfs: {} })), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.is(configPlatform(bytes({ rootfs: {} })), undefined);
  assert.is(configPlatform(Buffer.from('not json')), undefined);
});

test('the digest a pull reports is the list\'s when the reference named one, else the manifest\'s', () => {
  const image: RegistryImage = {
    ref: 'gcr.io/a/b:1',
    repository: 'gcr.io/a/b',
    manifestDigest: d('1'),
    manifestMediaType: MEDIA_TYPES.ociManifest,
    manifestBytes: Buffer.from('{}'),
    platform: { os: 'linux', architecture: 'amd64' },
    config: { digest: d('2'), size: 2, mediaType: MEDIA_TYPES.ociConfig },
    layers: [],
  };
  assert.is(servedDigest(image), d('1'));
  assert.is(servedDigest({ ...image, indexDigest: d('3') }), d('3'));
});

test('a machine\'s platform, and platforms that are one', () => {
  assert.equal(platformOfMachine('x64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(platformOfMachine('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.equal(platformOfMachine('arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.ok(samePlatform(parsePlatform('linux/arm64'), parsePlatform('linux/arm64/v8')));
  assert.ok(samePlatform(parsePlatform('linux/x86_64'), parsePlatform('linux/amd64')));
  assert.not.ok(samePlatform(parsePlatform('linux/arm64'), parsePlatform('linux/amd64')));
  assert.not.ok(samePlatform(parsePlatform('linux/arm/v6'), parsePlatform('linux/arm')));
});

test.run();
