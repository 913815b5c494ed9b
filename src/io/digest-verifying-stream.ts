// Passes bytes through while hashing and counting them, and errors instead of ending when they are not the blob the
// digest names: a consumer reading to the end has either the exact bytes or an error, never a clean end of bad bytes.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { digestAlgorithm } from '../core/registry-manifest.js';
import { RegistryError } from '../core/registry-error.js';

export interface ExpectedBlob {
  digest: string;
  size: number;
  /** How messages name the blob's source, e.g. `gcr.io/x/y@sha256:…` or a cache path. */
  what: string;
}

export class DigestVerifyingStream extends Transform {
  private readonly hash: Hash;
  private count = 0;
  private readonly expected: ExpectedBlob;

  constructor(expected: ExpectedBlob) {
    super();
    this.expected = expected;
    this.hash = createHash(digestAlgorithm(expected.digest));
  }

  get bytes(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    // Stop at the first byte too many rather than stream a gigabyte the manifest never promised.
    if (this.count > this.expected.size) {
      callback(mismatch(this.expected, `more than the ${this.expected.size} bytes the manifest gives`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.count !== this.expected.size) {
      callback(mismatch(this.expected, `${this.count} bytes where the manifest gives ${this.expected.size}`));
      return;
    }
    const actual = `${digestAlgorithm(this.expected.digest)}:${this.hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      callback(mismatch(this.expected, `bytes hash to ${actual}`));
      return;
    }
    callback();
  }
}

function mismatch(expected: ExpectedBlob, why: string): RegistryError {
  return new RegistryError('digest-mismatch', `${expected.what}: ${why}, not ${expected.digest}; the bytes are refused`, {
    hint: 'a proxy or mirror on the way may be altering content; try without it, or another mirror',
  });
}

/** `sha256:<hex>` (or sha512, following `like`) of bytes in memory: manifests and configs. */
export function digestOf(bytes: Buffer, like = 'sha256:'): string {
  const algorithm = digestAlgorithm(like);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
