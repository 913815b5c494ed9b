// Merging the archives of several saves: what two batches share is written once, the image lists are merged, and the
// result is one valid tar that does not depend on how the bytes were chunked.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeEntries } from '../../src/core/archive-order.js';
import { planSaveBatches } from '../../src/core/save-batches.js';
import { mergeArchives } from '../../src/io/archive-merger.js';
import { runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('archive merging and save batches');

const LONG = 'x'.repeat(130);

/** A save-like archive: a shared base layer, the image's own layer, a long-named entry, and the image lists. */
async function saveLike(root: string, image: string, format: 'pax' | 'gnu'): Promise<Buffer> {
  const dir = join(root, image);
  await mkdir(join(dir, 'base'), { recursive: true });
  await mkdir(join(dir, image), { recursive: true });
  await mkdir(join(dir, LONG), { recursive: true });
  await writeFile(join(dir, 'base/layer.tar'), Buffer.alloc(5000, 1));
  await writeFile(join(dir, `${image}/layer.tar`), Buffer.alloc(3000, image.charCodeAt(0)));
  await writeFile(join(dir, LONG, 'json'), '{"shared":true}');
  await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: `${image}.json`, RepoTags: [`example/${image}:1`], Layers: ['base/layer.tar', `${image}/layer.tar`] }]));
  await writeFile(join(dir, 'repositories'), `${JSON.stringify({ [`example/${image}`]: { '1': image } })}\n`);
  const tarFile = join(root, `${image}.tar`);
  const made = await runCommand('tar', ['-C', dir, '-cf', tarFile, `--format=${format}`, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '.']);
  assert.is(made.code, 0, made.stderr);
  return readFile(tarFile);
}

function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) chunks.push(bytes.subarray(offset, offset + size));
  return Readable.from(chunks);
}

async function merge(archives: Buffer[], chunkSize: number): Promise<Buffer> {
  return buffer(
    mergeArchives(
      (async function* () {
        for (const archive of archives) yield chunked(archive, chunkSize);
      })(),
    ),
  );
}

for (const format of ['pax', 'gnu'] as const) {
  test(`${format}: shared entries once, lists merged, any chunking gives the same bytes, tar reads it`, async () => {
    const dir = await makeTempDir();
    try {
      const archives = [await saveLike(dir.path, 'b', format), await saveLike(dir.path, 'a', format), await saveLike(dir.path, 'c', format)];
      const merged = await merge(archives, 777);
      assert.is(createHash('sha256').update(merged).digest('hex'), createHash('sha256').update(await merge(archives, 1 << 20)).digest('hex'));
      assert.is(merged.length % 512, 0);

      const file = join(dir.path, 'merged.tar');
      await writeFile(file, merged);
      const listed = await runCommand('tar', ['-tf', file]);
      assert.is(listed.code, 0, listed.stderr);
      const names = listed.stdout.trim().split('\n').map((name) => name.replace(/^\.\//, '').replace(/\/$/, ''));
      assert.equal(names.filter((name, index) => names.indexOf(name) !== index), [], 'no entry twice');
      for (const name of ['base/layer.tar', 'a/layer.tar', 'b/layer.tar', 'c/layer.tar', `${LONG}/json`, 'manifest.json', 'repositories']) {
        assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
      }
      assert.equal(names.slice(-2), ['manifest.json', 'repositories'], 'the image lists come last');

      const manifest = JSON.parse((await runCommand('tar', ['-xOf', file, './manifest.json'])).stdout) as { RepoTags: string[] }[];
      assert.equal(manifest.map((entry) => entry.RepoTags[0]), ['example/a:1', 'example/b:1', 'example/c:1']);
      const repositories = (await runCommand('tar', ['-xOf', file, './repositories'])).stdout;
      assert.is(repositories, '{"example/a":{"1":"a"},"example/b":{"1":"b"},"example/c":{"1":"c"}}\n');
      assert.is((await runCommand('tar', ['-xOf', file, `./${LONG}/json`])).stdout, '{"shared":true}');
      assert.is((await runCommand('tar', ['-xOf', file, './c/layer.tar'])).stdout, Buffer.alloc(3000, 'c'.charCodeAt(0)).toString());
    } finally {
      await dir.remove();
    }
  });
}

test('an archive that ends inside an entry is refused, naming which one', async () => {
  const dir = await makeTempDir();
  try {
    const whole = await saveLike(dir.path, 'a', 'pax');
    const error = await merge([whole, whole.subarray(0, 700)], 4096).catch((e: unknown) => e);
    assert.instance(error, Error);
    assert.match((error as Error).message, 'image archive 2 ended in the middle of an entry');
  } finally {
    await dir.remove();
  }
});

test('image lists that are not an engine JSON are refused rather than merged wrongly', () => {
  assert.is(mergeEntries('manifest.json', [Buffer.from('[]'), Buffer.from('{"a":1}')]), undefined);
  assert.is(mergeEntries('repositories', [Buffer.from('not json')]), undefined);
  const index = mergeEntries('index.json', [
    Buffer.from('{"schemaVersion":2,"manifests":[{"digest":"sha256:2"}]}'),
    Buffer.from('{"schemaVersion":2,"manifests":[{"digest":"sha256:1"}]}\n'),
  ]);
  assert.is(index?.toString(), '{"schemaVersion":2,"manifests":[{"digest":"sha256:1"},{"digest":"sha256:2"}]}');
});

test('save batches: consecutive, near-equal, at most five, at least four images each', () => {
  const sizes = (n: number) => planSaveBatches(Array.from({ length: n }, (_, i) => i)).map((batch) => batch.length);
  assert.equal(sizes(0), []);
  assert.equal(sizes(3), [3]);
  assert.equal(sizes(7), [7]);
  assert.equal(sizes(8), [4, 4]);
  assert.equal(sizes(9), [5, 4]);
  assert.equal(sizes(20), [4, 4, 4, 4, 4]);
  assert.equal(sizes(103), [21, 21, 21, 20, 20]);
  assert.equal(planSaveBatches(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']).flat(), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
});

test.run();
