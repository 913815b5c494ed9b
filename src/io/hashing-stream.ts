// Hashes and counts bytes as they pass, so a 10 GB tarball is read exactly once on its way to disk.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private hashingMs = 0;
  private readonly onBytes: ((total: number) => void) | undefined;

  constructor(onBytes?: (total: number) => void) {
    super();
    this.onBytes = onBytes;
  }

  get bytes(): number {
    return this.count;
  }

  /** Time spent in SHA-256 so far: the share of the stream's time the hash costs, though it overlaps the I/O. */
  get hashMs(): number {
    return this.hashingMs;
  }

  /** Valid once the stream has finished. */
  digestHex(): string {
    return this.hash.copy().digest('hex');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const started = performance.now();
    this.hash.update(chunk);
    this.hashingMs += performance.now() - started;
    this.count += chunk.length;
    this.onBytes?.(this.count);
    callback(null, chunk);
  }
}

export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hasher = new HashingStream();
  hasher.resume();
  await pipeline(createReadStream(path), hasher, { signal });
  return { sha256: hasher.digestHex(), size: hasher.bytes };
}
