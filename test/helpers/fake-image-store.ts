// An ImageStore without an engine: images exist when listed, and save() yields a generated tar that can fail at N.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mergeSaves } from '../../src/io/archive-merger.js';
import type { EngineImage, ImageArchiveStream, ImageStore } from '../../src/app/ports.js';
import { parseImageRef, formatImageRef, imageName } from '../../src/core/image-ref.js';

export interface FakeImageStoreOptions {
  /** Bytes save() produces. */
  saveBytes?: number;
  /** save() fails after this many bytes. */
  failSaveAt?: number;
  /** save() stops producing (without ending) after this many bytes, like a hung engine. */
  stallSaveAt?: number;
  /** Normalised refs whose pull fails with this message. */
  pullFailures?: Map<string, string>;
  /** Size every image reports (default 1000 bytes). */
  imageSize?: number;
}

/** The repository digest the fake registry serves for every tag. */
export const FAKE_TAG_DIGEST = `sha256:${'d'.repeat(64)}`;

export class FakeImageStore implements ImageStore {
  readonly pulled: string[] = [];
  private readonly images = new Map<string, EngineImage>();
  private readonly options: FakeImageStoreOptions;

  constructor(options: FakeImageStoreOptions = {}) {
    this.options = options;
  }

  async ping(): Promise<void> {}

  async pull(ref: string): Promise<void> {
    const key = formatImageRef(parseImageRef(ref));
    const failure = this.options.pullFailures?.get(key);
    if (failure !== undefined) throw new Error(failure);
    const parsed = parseImageRef(ref);
    const digest = parsed.digest ?? FAKE_TAG_DIGEST;
    this.images.set(key, { id: `sha256:${'1'.repeat(64)}`, repoTags: [key], repoDigests: [`${imageName(parsed)}@${digest}`], size: this.options.imageSize ?? 1000 });
    this.pulled.push(ref);
  }

  async inspect(ref: string): Promise<EngineImage | undefined> {
    return this.images.get(formatImageRef(parseImageRef(ref)));
  }

  async usage(imageIds: readonly string[]): Promise<{ id: string; size: number; sharedSize: number }[]> {
    return [...new Set(imageIds)].map((id) => ({ id, size: this.options.imageSize ?? 1000, sharedSize: 0 }));
  }

  async remoteDigest(ref: string): Promise<string> {
    const parsed = parseImageRef(ref);
    if (this.options.pullFailures?.has(formatImageRef(parsed))) throw new Error(`registry has no ${ref}`);
    return parsed.digest ?? FAKE_TAG_DIGEST;
  }

  async tag(source: string, target: string): Promise<void> {
    const image = await this.inspect(source);
    if (image === undefined) throw new Error(`no such image ${source}`);
    this.images.set(formatImageRef(parseImageRef(target)), image);
  }

  /** A tar of one entry named after the refs, `saveBytes` long in all (rounded up to whole 512-byte blocks). */
  async save(refs: readonly string[]): Promise<Readable> {
    const total = Math.max(3 * 512, Math.ceil((this.options.saveBytes ?? 1024 * 1024) / 512) * 512);
    const name = `${createHash('sha256').update(refs.join(',')).digest('hex')}/layer.tar`;
    const header = tarHeader(name, total - 3 * 512);
    const failAt = this.options.failSaveAt;
    const stallAt = this.options.stallSaveAt;
    let sent = 0;
    return new Readable({
      read() {
        if (failAt !== undefined && sent >= failAt) {
          this.destroy(new Error(`engine connection lost after ${sent} bytes`));
          return;
        }
        if (stallAt !== undefined && sent >= stallAt) return;
        if (sent >= total) {
          this.push(null);
          return;
        }
        if (sent === 0) {
          sent = 512;
          this.push(header);
          return;
        }
        const size = Math.min(16 * 1024, total - sent);
        sent += size;
        // The last two blocks are the end-of-archive marker: zeros.
        this.push(sent > total - 1024 ? Buffer.alloc(size) : Buffer.alloc(size, sent % 251));
      },
    });
  }

  async saveArchives(batches: AsyncIterable<readonly string[]>): Promise<ImageArchiveStream[]> {
    return [{ stage: 1, refs: undefined, stream: mergeSaves(batches, (refs) => this.save(refs)) }];
  }
}

/** A ustar header for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write('0', 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}
