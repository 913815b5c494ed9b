// Archive normalisation: two archives of the same files written at different times, by different owners and in
// different tar formats (ustar, GNU, PAX with sub-second times) become the same bytes, and still extract the same.

import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TarNormalizer } from '../../src/io/tar-normalizer.js';
import { parseByteSize } from '../../src/core/byte-size.js';
import { runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('tar normalisation and sizes');

async function normalise(bytes: Buffer, chunkSize: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) chunks.push(bytes.subarray(offset, offset + chunkSize));
  return buffer(Readable.from(chunks).pipe(new TarNormalizer()));
}

async function writeTree(root: string, when: Date): Promise<void> {
  const long = 'a'.repeat(120);
  await mkdir(join(root, 'layer', long), { recursive: true });
  await writeFile(join(root, 'layer', 'layer.tar'), Buffer.alloc(70_000, 7));
  await writeFile(join(root, 'layer', long, 'json'), '{"id":"x"}');
  await writeFile(join(root, 'manifest.json'), '[]');
  for (const path of ['layer/layer.tar', `layer/${long}/json`, 'manifest.json', `layer/${long}`, 'layer']) await utimes(join(root, path), when, when);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

for (const format of ['gnu', 'pax', 'ustar-like (posix without long names)'] as const) {
  test(`${format}: different times and owners, same bytes after normalisation; content unchanged`, async () => {
    const dir = await makeTempDir();
    try {
      const tars: Buffer[] = [];
      for (const [index, when] of [new Date('2024-01-02T03:04:05.678Z'), new Date('2026-11-22T10:00:00.123Z')].entries()) {
        const root = join(dir.path, `tree${index}`);
        await writeTree(root, when);
        const tarFile = join(dir.path, `t${index}.tar`);
        const args = format === 'gnu' ? ['--format=gnu'] : ['--format=pax'];
        const owner = index === 0 ? ['--owner=0', '--group=0'] : ['--owner=1234', '--group=5678', '--numeric-owner'];
        const members = format.startsWith('ustar') ? ['layer/layer.tar', 'manifest.json'] : ['layer', 'manifest.json'];
        const made = await runCommand('tar', ['-C', root, '-cf', tarFile, ...args, ...owner, ...members]);
        assert.is(made.code, 0, made.stderr);
        tars.push(await readFile(tarFile));
      }
      assert.is.not(sha(tars[0]!), sha(tars[1]!), 'the raw archives differ');
      const [a, b] = [await normalise(tars[0]!, 333), await normalise(tars[1]!, 4096)];
      assert.is(sha(a), sha(b), 'normalised archives are identical');
      assert.is(sha(a), sha(await normalise(tars[0]!, 1 << 20)), 'chunk boundaries do not matter');

      const out = join(dir.path, 'normalised.tar');
      await writeFile(out, a);
      const listed = await runCommand('tar', ['-tvf', out]);
      assert.is(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, '1970-01-01');
      assert.not.match(listed.stdout, /1234|5678|2024|2026/);
      await mkdir(join(dir.path, 'x'));
      const extracted = await runCommand('tar', ['-C', join(dir.path, 'x'), '-xf', out]);
      assert.is(extracted.code, 0, extracted.stderr);
      assert.equal(await readFile(join(dir.path, 'x', 'layer', 'layer.tar')), Buffer.alloc(70_000, 7));
    } finally {
      await dir.remove();
    }
  });
}

test('the image list in manifest.json is sorted, so the order a Go map gave does not matter', async () => {
  const dir = await makeTempDir();
  try {
    const a = { Config: 'aaa.json', RepoTags: ['gcr.io/a:1'], Layers: ['l1/layer.tar'] };
    const b = { Config: 'bbb.json', RepoTags: ['docker.io/b:1'], Layers: ['l2/layer.tar'] };
    const tars: Buffer[] = [];
    for (const [index, list] of [[a, b], [b, a]].entries()) {
      const root = join(dir.path, `t${index}`);
      await mkdir(root);
      await writeFile(join(root, 'manifest.json'), JSON.stringify(list));
      const made = await runCommand('tar', ['-C', root, '-cf', join(dir.path, `t${index}.tar`), 'manifest.json']);
      assert.is(made.code, 0, made.stderr);
      tars.push(await readFile(join(dir.path, `t${index}.tar`)));
    }
    const [first, second] = [await normalise(tars[0]!, 100), await normalise(tars[1]!, 7)];
    assert.is(sha(first), sha(second));
    await writeFile(join(dir.path, 'n.tar'), first);
    const shown = await runCommand('tar', ['-xOf', join(dir.path, 'n.tar'), 'manifest.json']);
    assert.equal(JSON.parse(shown.stdout).map((entry: { Config: string }) => entry.Config), ['bbb.json', 'aaa.json'], 'sorted by tag');
  } finally {
    await dir.remove();
  }
});

test('a stream cut inside an entry is an error, not a short archive', async () => {
  const dir = await makeTempDir();
  try {
    await writeTree(join(dir.path, 'tree'), new Date());
    const made = await runCommand('tar', ['-C', join(dir.path, 'tree'), '-cf', join(dir.path, 't.tar'), 'layer/layer.tar']);
    assert.is(made.code, 0);
    const cut = (await readFile(join(dir.path, 't.tar'))).subarray(0, 5000);
    await normalise(cut, 1024).then(
      () => assert.unreachable('accepted a cut archive'),
      (error: Error) => assert.match(error.message, 'ended in the middle of an entry'),
    );
  } finally {
    await dir.remove();
  }
});

test('sizes: decimal units fit FAT32 and DVDs, binary units with i, nonsense refused', () => {
  assert.is(parseByteSize('4G'), 4_000_000_000);
  assert.ok(parseByteSize('4G') < 2 ** 32 - 1, 'a 4G part fits FAT32');
  assert.is(parseByteSize('4.7G'), 4_700_000_000);
  assert.is(parseByteSize('512Mi'), 512 * 2 ** 20);
  assert.is(parseByteSize('700MB'), 700_000_000);
  assert.is(parseByteSize('65536'), 65536);
  for (const bad of ['', '4X', '-1G', '10', 'G']) assert.throws(() => parseByteSize(bad), /--split-size/);
});

test.run();
