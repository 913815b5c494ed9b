// The build use case without an engine: what it writes, and that a failure at any step leaves nothing behind.

import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildBundle, type BuildOptions } from '../../src/app/build-bundle.js';
import { KfbundleError } from '../../src/core/errors.js';
import { generateSigningKeys, signBytes, verifyBytes } from '../../src/io/bundle-signature.js';
import { FakeImageStore } from '../helpers/fake-image-store.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fakeBuildDeps } from '../helpers/fake-build.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import type { Platform } from '../../src/core/registry-image.js';
import { formatPlatform, parsePlatform } from '../../src/core/registry-manifest.js';

const test = suite('build use case');

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: kubeflow}
spec: {template: {spec: {containers: [{name: a, image: "gcr.io/x/a:1"}, {name: b, image: "busybox"}]}}}
`;

async function setup(store: FakeImageStore) {
  const dir = await makeTempDir();
  const input = join(dir.path, 'rendered.yaml');
  await writeFile(input, MANIFESTS);
  const options: BuildOptions = { manifests: input, outDir: join(dir.path, 'bundle'), mirrors: [], force: false, concurrency: 2, attempts: 2 };
  const deps = await fakeBuildDeps({ store });
  return { dir, options, deps };
}

test('writes every file and lists each in SHA256SUMS', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore({ saveBytes: 100_352 }));
  try {
    const result = await buildBundle(options, deps);
    assert.equal(await readdir(dir.path), ['bundle', 'rendered.yaml']);
    const sums = await readFile(join(options.outDir, 'SHA256SUMS'), 'utf8');
    assert.equal(sums.trim().split('\n').map((line) => line.slice(66)), [
      'bundle.json',
      'images/archives.txt',
      'images/images.tar',
      'images/refs.txt',
      'install.sh',
      'manifests/00-resources.waits',
      'manifests/00-resources.yaml',
      'manifests/objects.txt',
      'registry-manifests/00-resources.yaml',
    ]);
    assert.is(await readFile(join(options.outDir, 'manifests/objects.txt'), 'utf8'), 'apps/v1\tDeployment\tkubeflow\ta\n');
    assert.is(await readFile(join(options.outDir, 'images/refs.txt'), 'utf8'), 'docker.io/library/busybox:latest\ngcr.io/x/a:1\n');
    assert.is(await readFile(join(options.outDir, 'images/archives.txt'), 'utf8'), '1\timages/images.tar\n');
    assert.is(result.metadata.files.find((f) => f.path === 'images/images.tar')!.size, 100_352);
    assert.equal(result.metadata.images.map((i) => i.ref), ['docker.io/library/busybox:latest', 'gcr.io/x/a:1']);
  } finally {
    await dir.remove();
  }
});

test('a signed build writes SHA256SUMS.sig, which verifies against SHA256SUMS with the public key', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore());
  try {
    const keys = generateSigningKeys();
    await buildBundle(options, { ...deps, sign: (data) => signBytes(data, keys.privateKeyPem, 'test.key') });
    const sums = await readFile(join(options.outDir, 'SHA256SUMS'));
    const signature = await readFile(join(options.outDir, 'SHA256SUMS.sig'));
    assert.is(signature.length, 64);
    assert.ok(verifyBytes(sums, signature, keys.publicKeyPem, 'test.pub'));
    assert.not.ok(verifyBytes(Buffer.concat([sums, Buffer.from(' ')]), signature, keys.publicKeyPem, 'test.pub'));
  } finally {
    await dir.remove();
  }
});

test('a save stream that breaks mid-way leaves no bundle and no partial directory', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore({ saveBytes: 1_000_000, failSaveAt: 300_000 }));
  try {
    await buildBundle(options, deps).then(
      () => assert.unreachable('build should fail'),
      (error: Error) => assert.match(error.message, 'engine connection lost after'),
    );
    assert.equal(await readdir(dir.path), ['rendered.yaml']);
  } finally {
    await dir.remove();
  }
});

test('an interrupt during a hung save aborts the build and removes the partial directory', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore({ saveBytes: 1_000_000, stallSaveAt: 64 * 1024 }));
  const controller = new AbortController();
  try {
    const building = buildBundle({ ...options, signal: controller.signal }, {
      ...deps,
      report: (event) => {
        if (event.type === 'save-progress' && event.bytes >= 64 * 1024) controller.abort(new Error('interrupted'));
      },
    });
    const error = await building.catch((e: unknown) => e);
    assert.instance(error, Error);
    assert.equal(await readdir(dir.path), ['rendered.yaml']);
  } finally {
    await dir.remove();
  }
});

test('every failed pull is reported in one error, and nothing is written', async () => {
  const failures = new Map([
    ['gcr.io/x/a:1', 'manifest for gcr.io/x/a:1 not found: manifest unknown'],
    ['docker.io/library/busybox:latest', 'toomanyrequests: rate limit'],
  ]);
  const store = new FakeImageStore({ pullFailures: failures });
  const { dir, options, deps } = await setup(store);
  try {
    const error = await buildBundle(options, deps).catch((e: unknown) => e);
    assert.instance(error, KfbundleError);
    assert.is((error as KfbundleError).code, 'PULL_FAILED');
    assert.match((error as Error).message, '2 of 2 images could not be pulled');
    assert.match((error as Error).message, 'gcr.io/x/a:1: manifest for gcr.io/x/a:1 not found');
    assert.match((error as Error).message, 'docker.io/library/busybox:latest: toomanyrequests');
    assert.equal(await readdir(dir.path), ['rendered.yaml']);
  } finally {
    await dir.remove();
  }
});

test('an existing output directory is refused unless forced, and replaced whole when forced', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore());
  try {
    await mkdir(options.outDir);
    await writeFile(join(options.outDir, 'old-file'), 'x');
    const error = await buildBundle(options, deps).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'OUTPUT_EXISTS');
    assert.equal(await readdir(options.outDir), ['old-file']);
    await buildBundle({ ...options, force: true }, deps);
    assert.not.ok((await readdir(options.outDir)).includes('old-file'));
    assert.equal((await readdir(dir.path)).sort(), ['bundle', 'rendered.yaml']);
  } finally {
    await dir.remove();
  }
});

test('a build run again with the same inputs pulls nothing already present and writes the same SHA256SUMS', async () => {
  const store = new FakeImageStore({ saveBytes: 300_000 });
  const { dir, options, deps } = await setup(store);
  try {
    const first = await buildBundle(options, deps);
    const sums = await readFile(join(options.outDir, 'SHA256SUMS'), 'utf8');
    assert.is(store.pulled.length, 2);
    const events: string[] = [];
    await buildBundle({ ...options, outDir: join(dir.path, 'again') }, { ...deps, report: (event) => event.type === 'pull-done' && events.push(`${event.ref} ${event.alreadyPresent}`) });
    assert.is(store.pulled.length, 2, 'no second pull');
    assert.equal(events.sort(), ['docker.io/library/busybox:latest true', 'gcr.io/x/a:1 true']);
    assert.is(await readFile(join(dir.path, 'again', 'SHA256SUMS'), 'utf8'), sums);
    assert.ok(first.metadata.files.length > 0);
  } finally {
    await dir.remove();
  }
});

test('a staging directory left by a killed build is removed by the next build; one of a live build is refused', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore());
  try {
    const abandoned = join(dir.path, '.bundle.partial-999999999-deadbeef');
    await mkdir(join(abandoned, 'images'), { recursive: true });
    await writeFile(join(abandoned, 'images', 'images.tar'), 'half');
    await buildBundle(options, deps);
    assert.equal((await readdir(dir.path)).sort(), ['bundle', 'rendered.yaml']);

    const live = join(dir.path, `.again.partial-${process.ppid}-cafe`);
    await mkdir(live);
    const error = await buildBundle({ ...options, outDir: join(dir.path, 'again') }, deps).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'OUTPUT_EXISTS');
    assert.match((error as Error).message, `another kfbundle build (pid ${process.ppid})`);
  } finally {
    await dir.remove();
  }
});

test('--split-size writes numbered parts, each listed in SHA256SUMS, that concatenate to the archive', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore({ saveBytes: 250_368 }));
  try {
    const result = await buildBundle({ ...options, splitSize: 100_000 }, deps);
    const [archive] = result.metadata.imageArchives;
    assert.ok(archive !== undefined && result.metadata.imageArchives.length === 1);
    assert.equal(archive.parts, ['images/images.tar.0000', 'images/images.tar.0001', 'images/images.tar.0002']);
    const parts = await Promise.all(archive.parts.map((part) => readFile(join(options.outDir, part))));
    assert.equal(parts.map((part) => part.length), [100_000, 100_000, 50_368]);
    const whole = Buffer.concat(parts);
    assert.is(createHash('sha256').update(whole).digest('hex'), archive.sha256);
    const sums = await readFile(join(options.outDir, 'SHA256SUMS'), 'utf8');
    for (const [index, part] of archive.parts.entries()) {
      assert.match(sums, `${createHash('sha256').update(parts[index]!).digest('hex')}  ${part}`);
    }
    assert.not.ok((await readdir(join(options.outDir, 'images'))).includes('images.tar'));
  } finally {
    await dir.remove();
  }
});

test('not enough room for the archive: refused before the save, naming what is needed and what is free', async () => {
  const disk = await mountTmpfs(4 * 1024 * 1024);
  const { dir, options, deps } = await setup(new FakeImageStore({ imageSize: 50_000_000 }));
  try {
    const error = await buildBundle({ ...options, outDir: join(disk.path, 'bundle') }, deps).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'DISK_FULL');
    assert.match((error as Error).message, 'needs at least 0.05 GB but 0.00 GB is free');
    assert.equal(await readdir(disk.path), [], 'nothing left on the disk');
  } finally {
    await dir.remove();
    await disk.remove();
  }
});

test('the disk fills up during the save (ENOSPC): a clear error, and the partial bundle is removed', async () => {
  const disk = await mountTmpfs(2 * 1024 * 1024);
  const { dir, options, deps } = await setup(new FakeImageStore({ saveBytes: 6 * 1024 * 1024 }));
  try {
    const error = await buildBundle({ ...options, outDir: join(disk.path, 'bundle') }, deps).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'DISK_FULL', String(error));
    assert.match((error as Error).message, `no space left on the device while writing images/images.tar under ${disk.path}`);
    assert.equal(await readdir(disk.path), [], 'nothing left on the disk');
  } finally {
    await dir.remove();
    await disk.remove();
  }
});

test('several platforms: a store each, a directory each with its archives and references, format 3', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore());
  const stores = new Map<string, FakeImageStore>();
  const storeFor = (platform: Platform) => {
    const store = new FakeImageStore({ saveBytes: platform.architecture === 'arm64' ? 20_480 : 10_240 });
    stores.set(formatPlatform(platform), store);
    return store;
  };
  try {
    const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')];
    const result = await buildBundle({ ...options, platforms }, { ...deps, storeFor });
    assert.equal([...stores.keys()], ['linux/amd64', 'linux/arm64']);
    const sums = (await readFile(join(options.outDir, 'SHA256SUMS'), 'utf8')).trim().split('\n').map((line) => line.slice(66));
    assert.equal(sums.filter((path) => path.startsWith('images/')), [
      'images/linux-amd64/archives.txt',
      'images/linux-amd64/images.tar',
      'images/linux-amd64/refs.txt',
      'images/linux-arm64/archives.txt',
      'images/linux-arm64/images.tar',
      'images/linux-arm64/refs.txt',
      'images/refs.txt',
    ]);
    assert.is(await readFile(join(options.outDir, 'images/linux-arm64/archives.txt'), 'utf8'), '1\timages/linux-arm64/images.tar\n');
    assert.is(await readFile(join(options.outDir, 'images/linux-arm64/refs.txt'), 'utf8'), 'docker.io/library/busybox:latest\ngcr.io/x/a:1\n');
    assert.is(result.metadata.formatVersion, 3);
    assert.equal(result.metadata.platforms, ['linux/amd64', 'linux/arm64']);
    assert.is(result.metadata.platform, undefined);
    assert.equal(result.metadata.images.map((image) => `${image.ref} ${image.forPlatform}`).sort(), [
      'docker.io/library/busybox:latest linux/amd64',
      'docker.io/library/busybox:latest linux/arm64',
      'gcr.io/x/a:1 linux/amd64',
      'gcr.io/x/a:1 linux/arm64',
    ]);
    assert.equal(result.metadata.imageArchives.map((archive) => `${archive.path} ${archive.platform} ${archive.size}`), [
      'images/linux-amd64/images.tar linux/amd64 10240',
      'images/linux-arm64/images.tar linux/arm64 20480',
    ]);
    const installer = await readFile(join(options.outDir, 'install.sh'), 'utf8');
    assert.match(installer, "PLATFORM_IMAGE_DIRS='linux/amd64=images/linux-amd64 linux/arm64=images/linux-arm64'");
    assert.match(installer, "BUNDLE_PLATFORM=''");
  } finally {
    await dir.remove();
  }
});

test('one platform stays format 2, with its images in images/ itself', async () => {
  const { dir, options, deps } = await setup(new FakeImageStore());
  try {
    const result = await buildBundle({ ...options, platforms: [parsePlatform('linux/arm64')] }, deps);
    assert.is(result.metadata.formatVersion, 2);
    assert.is(result.metadata.platform, 'linux/arm64');
    assert.is(result.metadata.platforms, undefined);
    assert.ok(result.metadata.imageArchives.every((archive) => archive.path === 'images/images.tar' && archive.platform === undefined));
    assert.match(await readFile(join(options.outDir, 'install.sh'), 'utf8'), "PLATFORM_IMAGE_DIRS=''");
  } finally {
    await dir.remove();
  }
});

test.run();
