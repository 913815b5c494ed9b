// Merging the archives of several saves: what two batches share is written once, the image lists are merged, and the
// result is one valid tar that does not depend on how the bytes were chunked.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeEntries } from '../../src/core/archive-order.js';
import { planSaveBatches } from '../../src/core/save-batches.js';
import { mergeArchives, mergeSaves } from '../../src/io/archive-merger.js';
import { runCommand } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';

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
  test(`${format}: shared entries once, lists merged, any chunking gives the same bytes, tar reads it`, async () =>
    withTempDir(async (root) => {
      const archives = [await saveLike(root, 'b', format), await saveLike(root, 'a', format), await saveLike(root, 'c', format)];
      const merged = await merge(archives, 777);
      assert.is(createHash('sha256').update(merged).digest('hex'), createHash('sha256').update(await merge(archives, 1 << 20)).digest('hex'));
      assert.is(merged.length % 512, 0);

      const file = join(root, 'merged.tar');
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
    }));
}

/** Rejects if `promise` has not settled in `ms`: a guard against a hang, not a speed check. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

test('the next save is asked for while the archive before it is still being read', async () =>
  withTempDir(async (root) => {
    const archives = { a: await saveLike(root, 'a', 'pax'), b: await saveLike(root, 'b', 'pax') };
    const first = new PassThrough();
    // The first archive's last bytes come only once the second save has been asked for, as an engine still copying
    // the next batch would be: merging one save after another never gets there.
    first.write(archives.a.subarray(0, 1024));
    const save = async (refs: readonly string[]): Promise<Readable> => {
      if (refs[0] === 'a') return first;
      first.end(archives.a.subarray(1024));
      return chunked(archives.b, 4096);
    };
    const merged = await within(buffer(mergeSaves(Readable.from([['a'], ['b']]), save)), 5000, 'merging two saves');
    const file = join(root, 'merged.tar');
    await writeFile(file, merged);
    const names = (await runCommand('tar', ['-tf', file])).stdout;
    assert.match(names, './a/layer.tar');
    assert.match(names, './b/layer.tar');
  }));

test('the next save is asked for before the one before it sends a byte, and no more than two are under way', async () =>
  withTempDir(async (root) => {
    const archives: Record<string, Buffer> = {};
    for (const image of ['a', 'b', 'c', 'd']) archives[image] = await saveLike(root, image, 'pax');
    let underWay = 0;
    let most = 0;
    let secondAsked!: () => void;
    const asked = new Promise<void>((resolve) => (secondAsked = resolve));
    const save = async (refs: readonly string[]): Promise<Readable> => {
      underWay++;
      most = Math.max(most, underWay);
      if (refs[0] === 'b') secondAsked();
      // As an engine copying its layers: the first save answers only once the second copy runs beside it.
      if (refs[0] === 'a') await asked;
      const archive = chunked(archives[refs[0]!]!, 4096);
      archive.on('end', () => underWay--);
      return archive;
    };
    const merged = await within(buffer(mergeSaves(Readable.from([['a'], ['b'], ['c'], ['d']]), save)), 5000, 'merging four saves');
    assert.is(most, 2, 'saves under way at once');
    const file = join(root, 'merged.tar');
    await writeFile(file, merged);
    const names = (await runCommand('tar', ['-tf', file])).stdout;
    for (const image of ['a', 'b', 'c', 'd']) assert.match(names, `./${image}/layer.tar`);
  }));

test('a save that fails while the one before it streams fails the merge; the merge stops asking for saves', async () =>
  withTempDir(async (root) => {
    const whole = await saveLike(root, 'a', 'pax');
    const asked: string[] = [];
    const save = async (refs: readonly string[]): Promise<Readable> => {
      asked.push(refs[0]!);
      if (refs[0] === 'b') throw new Error('docker save of b failed: no such image');
      return chunked(whole, 4096);
    };
    const error = await within(buffer(mergeSaves(Readable.from([['a'], ['b'], ['c'], ['d']]), save)).catch((e: unknown) => e), 5000, 'a failing save');
    assert.instance(error, Error);
    assert.match((error as Error).message, 'docker save of b failed');
    assert.not.ok(asked.includes('d'), `saves asked for: ${asked.join(', ')}`);
  }));

test('an engine connection that breaks while its save waits its turn fails the merge with that error', async () =>
  withTempDir(async (root) => {
    const whole = await saveLike(root, 'a', 'pax');
    const first = new PassThrough();
    first.write(whole.subarray(0, 1024));
    const save = async (refs: readonly string[]): Promise<Readable> => {
      if (refs[0] === 'a') return first;
      const waiting = new PassThrough();
      // Breaks before the merge reaches it; only then does the first archive end.
      setImmediate(() => {
        waiting.destroy(new Error('connection to the engine reset'));
        setImmediate(() => first.end(whole.subarray(1024)));
      });
      return waiting;
    };
    const error = await within(buffer(mergeSaves(Readable.from([['a'], ['b']]), save)).catch((e: unknown) => e), 5000, 'a broken save');
    assert.instance(error, Error);
    assert.match((error as Error).message, 'connection to the engine reset');
  }));

test('an archive that ends inside an entry is refused, naming which one', async () =>
  withTempDir(async (root) => {
    const whole = await saveLike(root, 'a', 'pax');
    const error = await merge([whole, whole.subarray(0, 700)], 4096).catch((e: unknown) => e);
    assert.instance(error, Error);
    assert.match((error as Error).message, 'image archive 2 ended in the middle of an entry');
  }));

test('image lists that are not an engine JSON are refused rather than merged wrongly', () => {
  assert.is(mergeEntries('manifest.json', [Buffer.from('[]'), Buffer.from('{"a":1}')]), undefined);
  assert.is(mergeEntries('repositories', [Buffer.from('not json')]), undefined);
  const index = mergeEntries('index.json', [
    Buffer.from('{"schemaVersion":2,"manifests":[{"digest":"sha256:2"}]}'),
    Buffer.from('{"schemaVersion":2,"manifests":[{"digest":"sha256:1"}]}\n'),
  ]);
  assert.is(index?.toString(), '{"schemaVersion":2,"manifests":[{"digest":"sha256:1"},{"digest":"sha256:2"}]}');
});

test('save batches: consecutive, shrinking in steps, at most four, one batch below eight images', () => {
  const sizes = (n: number) => planSaveBatches(Array.from({ length: n }, (_, i) => i)).map((batch) => batch.length);
  assert.equal(sizes(0), []);
  assert.equal(sizes(3), [3]);
  assert.equal(sizes(7), [7]);
  assert.equal(sizes(8), [5, 3]);
  assert.equal(sizes(12), [6, 4, 2]);
  assert.equal(sizes(15), [8, 5, 2]);
  assert.equal(sizes(20), [8, 6, 4, 2]);
  assert.equal(sizes(103), [41, 31, 21, 10]);
  for (let n = 1; n <= 200; n++) assert.is(sizes(n).reduce((sum, size) => sum + size, 0), n, `every one of ${n} images in a batch`);
  assert.equal(planSaveBatches(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']).flat(), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
});

test.run();
