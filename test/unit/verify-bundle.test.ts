// verifyBundle over a real directory: every kind of damage is named.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyBundle } from '../../src/app/verify-bundle.js';
import { formatChecksums } from '../../src/core/checksums.js';
import { DirectoryBundleReader } from '../../src/io/bundle-reader.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('verify');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function bundleWith(files: Record<string, string>) {
  const dir = await makeTempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir.path, path, '..'), { recursive: true });
    await writeFile(join(dir.path, path), content);
  }
  await writeFile(join(dir.path, 'SHA256SUMS'), formatChecksums(Object.entries(files).map(([path, content]) => ({ path, sha256: sha(content) }))));
  return dir;
}

function metadataFor(files: Record<string, string>): string {
  const sums = formatChecksums(Object.entries(files).map(([path, content]) => ({ path, sha256: sha(content) })));
  return JSON.stringify({ contentDigest: sha(sums) });
}

test('an intact bundle passes with its file and byte counts', async () => {
  const content = { 'manifests/00-namespaces.yaml': 'kind: Namespace\n' };
  const metadata = metadataFor(content);
  const dir = await bundleWith({ 'bundle.json': metadata, ...content });
  try {
    const result = await verifyBundle({ reader: new DirectoryBundleReader(dir.path) });
    assert.equal(result, { ok: true, signature: 'unsigned', files: 2, bytes: 16 + metadata.length, problems: [] });
  } finally {
    await dir.remove();
  }
});

test('a bundle.json that does not describe this SHA256SUMS is refused, even with every checksum right', async () => {
  const content = { 'manifests/00-namespaces.yaml': 'kind: Namespace\n' };
  const fromElsewhere = metadataFor({ 'manifests/00-namespaces.yaml': 'kind: Namespace\nmetadata: {name: other}\n' });
  const dir = await bundleWith({ 'bundle.json': fromElsewhere, ...content });
  try {
    const result = await verifyBundle({ reader: new DirectoryBundleReader(dir.path) });
    assert.equal(result.problems, [{ path: 'bundle.json', problem: 'inconsistent' }]);
  } finally {
    await dir.remove();
  }
});

test('changed, missing and extra files are each named', async () => {
  const dir = await bundleWith({ 'a.txt': 'a', 'b.txt': 'b', 'c/d.txt': 'd' });
  try {
    await writeFile(join(dir.path, 'a.txt'), 'A');
    await rm(join(dir.path, 'b.txt'));
    await writeFile(join(dir.path, 'c/extra.txt'), 'x');
    const result = await verifyBundle({ reader: new DirectoryBundleReader(dir.path) });
    assert.is(result.ok, false);
    assert.equal(result.problems, [
      { path: 'a.txt', problem: 'changed' },
      { path: 'b.txt', problem: 'missing' },
      { path: 'c/extra.txt', problem: 'extra' },
    ]);
  } finally {
    await dir.remove();
  }
});

test('a directory without SHA256SUMS is not a bundle', async () => {
  const dir = await makeTempDir();
  try {
    const error = await verifyBundle({ reader: new DirectoryBundleReader(dir.path) }).catch((e: unknown) => e);
    assert.match((error as Error).message, 'SHA256SUMS is missing');
  } finally {
    await dir.remove();
  }
});

test.run();
