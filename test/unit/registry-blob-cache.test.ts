// The blob cache and the digest check on real files in a temporary directory.

import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, utimes, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isRegistryError } from '../../src/core/registry-error.js';
import { BlobCache, defaultCacheDir } from '../../src/io/blob-cache.js';
import { DigestVerifyingStream } from '../../src/io/digest-verifying-stream.js';
import { flipByte } from '../helpers/flip-byte.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('registry blob cache');
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The stream in pieces, so a check that only looks at whole buffers would be caught. */
function pieces(bytes: Buffer, size = 1000): Readable {
  const list: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) list.push(bytes.subarray(at, at + size));
  return Readable.from(list);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

test('the verifying stream passes the exact bytes and ends; refuses too many, too few or other bytes', async () => {
  const bytes = randomBytes(10_000);
  const digest = sha256(bytes);
  const passed = await readAll(pieces(bytes).pipe(new DigestVerifyingStream({ digest, size: bytes.length, what: 'blob x' })));
  assert.ok(passed.equals(bytes));

  const cases: [Buffer, number, RegExp][] = [
    [Buffer.concat([bytes, Buffer.from('!')]), bytes.length, /blob x: more than the 10000 bytes/],
    [bytes.subarray(0, 9_999), bytes.length, /blob x: 9999 bytes where the manifest gives 10000/],
    [Buffer.from(bytes).fill(1, 5000, 5001), bytes.length, /blob x: bytes hash to sha256:[0-9a-f]{64}, not sha256:/],
  ];
  for (const [input, size, message] of cases) {
    const error = await rejection(pipeline(pieces(input), new DigestVerifyingStream({ digest, size, what: 'blob x' }), async function* (source) {
      for await (const _ of source) yield _;
    }));
    assert.ok(isRegistryError(error), String(error));
    assert.is((error as { code: string }).code, 'DIGEST_MISMATCH');
    assert.match((error as Error).message, message);
  }
});

test('too many bytes are refused at the first byte too many, not at the end', async () => {
  const bytes = randomBytes(5_000);
  const verifier = new DigestVerifyingStream({ digest: sha256(bytes.subarray(0, 100)), size: 100, what: 'blob y' });
  let delivered = 0;
  verifier.on('data', (chunk: Buffer) => (delivered += chunk.length));
  const error = await rejection(pipeline(pieces(bytes, 50), verifier));
  assert.ok(isRegistryError(error));
  assert.ok(delivered <= 100, `${delivered} bytes passed`);
});

test('writes an entry by digest, reads it back, and leaves no temporary file', async () => {
  const dir = await makeTempDir();
  try {
    const cache = new BlobCache(dir.path);
    const bytes = randomBytes(200_000);
    const digest = sha256(bytes);
    assert.not.ok(await cache.has(digest));
    assert.is(await cache.read(digest, bytes.length), undefined);
    await cache.write(digest, bytes.length, pieces(bytes), 'blob a');
    assert.ok(await cache.has(digest));
    assert.is(cache.pathFor(digest), join(dir.path, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    assert.ok((await readFile(cache.pathFor(digest))).equals(bytes));
    // A second cache object (another build) hashes the entry before trusting it, and finds it whole.
    const reread = await new BlobCache(dir.path).read(digest, bytes.length);
    assert.ok(reread !== undefined && (await readAll(reread)).equals(bytes));
    assert.equal(await readdir(join(dir.path, 'blobs', 'sha256')), [digest.slice('sha256:'.length)]);
  } finally {
    await dir.remove();
  }
});

test('bytes that do not match are refused and leave neither entry nor temporary file', async () => {
  const dir = await makeTempDir();
  try {
    const cache = new BlobCache(dir.path);
    const bytes = randomBytes(50_000);
    const digest = sha256(bytes);
    const damaged = Buffer.from(bytes);
    damaged[123] = damaged[123]! ^ 1;
    const error = await rejection(cache.write(digest, bytes.length, pieces(damaged), 'blob b'));
    assert.is((error as { code: string }).code, 'DIGEST_MISMATCH');
    assert.not.ok(await cache.has(digest));
    assert.equal(await readdir(join(dir.path, 'blobs', 'sha256')), []);
  } finally {
    await dir.remove();
  }
});

test('a corrupt or truncated entry is found on read by a new cache object and deleted', async () => {
  const dir = await makeTempDir();
  try {
    const bytes = randomBytes(80_000);
    const digest = sha256(bytes);
    const corrupt: string[] = [];
    await new BlobCache(dir.path).write(digest, bytes.length, pieces(bytes), 'blob c');
    await flipByte(new BlobCache(dir.path).pathFor(digest), 40_000, 0x01);
    const reader = new BlobCache(dir.path, { onCorrupt: (d) => corrupt.push(d) });
    assert.is(await reader.read(digest, bytes.length), undefined);
    assert.equal(corrupt, [digest]);
    assert.not.ok(await reader.has(digest));

    await reader.write(digest, bytes.length, pieces(bytes), 'blob c');
    await writeFile(reader.pathFor(digest), bytes.subarray(0, 1000));
    assert.is(await new BlobCache(dir.path).read(digest, bytes.length), undefined);
    assert.not.ok(await reader.has(digest));
  } finally {
    await dir.remove();
  }
});

test('two writers of one blob at once both succeed and leave one whole entry', async () => {
  const dir = await makeTempDir();
  try {
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = sha256(bytes);
    const slow = async function* () {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield bytes.subarray(at, at + 64 * 1024);
      }
    };
    await Promise.all([new BlobCache(dir.path).write(digest, bytes.length, Readable.from(slow()), 'w1'), new BlobCache(dir.path).write(digest, bytes.length, Readable.from(slow()), 'w2')]);
    assert.ok((await readFile(new BlobCache(dir.path).pathFor(digest))).equals(bytes));
    assert.equal(await readdir(join(dir.path, 'blobs', 'sha256')), [digest.slice('sha256:'.length)]);
  } finally {
    await dir.remove();
  }
});

test('small entries (manifests) by digest; a corrupt one reads as absent', async () => {
  const dir = await makeTempDir();
  try {
    const cache = new BlobCache(dir.path);
    const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
    await cache.writeSmall(manifest);
    const digest = sha256(manifest);
    assert.ok((await cache.readSmall(digest))?.equals(manifest));
    await flipByte(cache.pathFor(digest), 3);
    assert.is(await new BlobCache(dir.path).readSmall(digest), undefined);
    assert.not.ok(await cache.has(digest));
  } finally {
    await dir.remove();
  }
});

test('stale temporaries of dead builds are removed; fresh ones and entries are kept', async () => {
  const dir = await makeTempDir();
  try {
    const cache = new BlobCache(dir.path);
    const bytes = Buffer.from('entry');
    const digest = sha256(bytes);
    await cache.write(digest, bytes.length, pieces(bytes), 'e');
    const blobs = join(dir.path, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, '.old.1.aa.tmp'), 'x');
    await writeFile(join(blobs, '.new.1.bb.tmp'), 'x');
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(join(blobs, '.old.1.aa.tmp'), old, old);
    assert.is(await cache.removeStaleTemporaries(), 1);
    assert.equal((await readdir(blobs)).sort(), ['.new.1.bb.tmp', digest.slice('sha256:'.length)].sort());
    assert.ok((await stat(cache.pathFor(digest))).isFile());
  } finally {
    await dir.remove();
  }
});

test('refuses digests that could leave the cache directory', () => {
  const cache = new BlobCache('/cache');
  for (const bad of ['sha256:../../etc/passwd', 'sha256:abc', 'md5:' + 'a'.repeat(32), `sha256:${'A'.repeat(64)}`]) assert.throws(() => cache.pathFor(bad), /not a digest/);
});

test('the default directory follows XDG_CACHE_HOME, else ~/.cache', () => {
  assert.is(defaultCacheDir({ XDG_CACHE_HOME: '/var/cache/me' }), '/var/cache/me/kfbundle');
  assert.match(defaultCacheDir({}), /\/\.cache\/kfbundle$/);
  // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
  assert.match(defaultCacheDir({ XDG_CACHE_HOME: 'rel' }), /\/\.cache\/kfbundle$/);
});

test.run();
