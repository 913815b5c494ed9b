// Blobs and manifests kept on disk by digest (`blobs/sha256/<hex>`), so a rerun, a second release or a delta bundle
// downloads nothing it already has. Entries are written to a temporary file beside their place and renamed into it
// only after their digest checks, so builds sharing a cache never see half a blob and two writers of one blob both
// succeed. An entry is hashed when first read by this cache object; one that does not match is deleted.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSupportedDigest } from '../core/registry-manifest.js';
import { DigestVerifyingStream, digestOf } from './digest-verifying-stream.js';
import { errnoOf, fileFault, isFileSystemRefusal } from './system-errors.js';

export interface BlobCacheOptions {
  /** Told when an entry fails its digest and is deleted. */
  onCorrupt?: (digest: string, path: string) => void;
}

const TEMP_SUFFIX = '.tmp';
// A temporary file this old is left by a build that died; a live build writes its temporaries far faster.
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** $XDG_CACHE_HOME/kfbundle, else ~/.cache/kfbundle: where the cache lives unless `--cache DIR` says otherwise. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'kfbundle');
}

export class BlobCache {
  readonly dir: string;
  private readonly options: BlobCacheOptions;
  /** Digests this object has checked (written or hashed on read), which it need not hash again. */
  private readonly checked = new Set<string>();

  constructor(dir: string, options: BlobCacheOptions = {}) {
    this.dir = dir;
    this.options = options;
  }

  /**
   * Creates the cache's directories and proves a file can be written there, so a cache on a read-only disk or in a
   * directory the user may not write stops the build before any download, naming the cache.
   * @throws KfbundleError PERMISSION_DENIED, READ_ONLY_FILE_SYSTEM, DISK_FULL, IO_ERROR
   */
  async ensureWritable(): Promise<void> {
    const blobs = join(this.dir, 'blobs', 'sha256');
    try {
      // Parents first, the rest one level at a time: Node's recursive mkdir reports a read-only file system as ENOENT.
      await mkdir(dirname(this.dir), { recursive: true });
      for (const dir of [this.dir, join(this.dir, 'blobs'), blobs]) {
        await mkdir(dir).catch((error: unknown) => {
          if (errnoOf(error) !== 'EEXIST') throw error;
        });
      }
      const probe = join(blobs, `.probe.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
      await writeFile(probe, '');
      await unlink(probe);
    } catch (error) {
      throw fileFault(error, { what: 'the blob cache', path: this.dir, action: 'write' });
    }
  }

  /** @throws Error for a digest that could escape the cache directory or that we cannot check */
  pathFor(digest: string): string {
    if (!isSupportedDigest(digest)) throw new Error(`not a digest the cache can hold: ${digest}`);
    const [algorithm, hex] = digest.split(':') as [string, string];
    return join(this.dir, 'blobs', algorithm, hex);
  }

  /** Whether an entry exists, unchecked: for planning (what would be downloaded), not for trusting. */
  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.pathFor(digest))).isFile();
    } catch {
      return false;
    }
  }

  /**
   * The entry's bytes, or undefined when it is absent or was corrupt (then it is deleted). The first read by this
   * cache object hashes the whole entry before handing it out, so bad bytes are found before any reach a consumer
   * and the caller can fetch them again. One entry at a time, so the stream handed out reads what the hash just
   * brought into the page cache, not the disk a second time.
   */
  async read(digest: string, size: number, signal?: AbortSignal): Promise<Readable | undefined> {
    const path = this.pathFor(digest);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const info = await handle.stat();
      if (info.size !== size) {
        await this.discard(digest, path);
        await handle.close();
        return undefined;
      }
      if (!this.checked.has(digest)) {
        // Hash through the open handle: a concurrent writer renames a new file into place, never writes this one.
        const verifier = new DigestVerifyingStream({ digest, size, what: path });
        verifier.resume();
        try {
          await pipeline(handle.createReadStream({ start: 0, autoClose: false }), verifier, { signal });
        } catch (error) {
          if (signal?.aborted === true) throw error;
          await this.discard(digest, path);
          await handle.close();
          return undefined;
        }
        this.checked.add(digest);
      }
      return handle.createReadStream({ start: 0, autoClose: true });
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Writes `source` as the entry for `digest`, checking it as it streams; the entry appears only when it is whole and
   * right. Rejects (leaving no entry) when the bytes do not match. A concurrent writer of the same entry is harmless.
   */
  async write(digest: string, size: number, source: Readable | AsyncIterable<Buffer>, what: string, signal?: AbortSignal): Promise<void> {
    const path = this.pathFor(digest);
    const temp = await this.tempPathFor(path).catch((error: unknown) => {
      throw this.fault(error);
    });
    try {
      await pipeline(source, new DigestVerifyingStream({ digest, size, what }), createWriteStream(temp, { flags: 'wx' }), { signal });
      await rename(temp, path);
      this.checked.add(digest);
    } catch (error) {
      await rm(temp, { force: true });
      throw this.fault(error);
    }
  }

  /** A small entry (a manifest, a config) whole, or undefined when absent or corrupt (then deleted). */
  async readSmall(digest: string): Promise<Buffer | undefined> {
    const path = this.pathFor(digest);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return undefined;
    }
    if (digestOf(bytes, digest) !== digest) {
      await this.discard(digest, path);
      return undefined;
    }
    this.checked.add(digest);
    return bytes;
  }

  /** Stores bytes in memory (a manifest as served) under their digest. */
  async writeSmall(bytes: Buffer, digest = digestOf(bytes)): Promise<void> {
    await this.write(digest, bytes.length, Readable.from([bytes]), `manifest ${digest}`);
  }

  /** Removes temporary files that builds which died left behind; entries are never touched. */
  async removeStaleTemporaries(now = Date.now()): Promise<number> {
    let removed = 0;
    let algorithms: string[];
    try {
      algorithms = await readdir(join(this.dir, 'blobs'));
    } catch {
      return 0;
    }
    for (const algorithm of algorithms) {
      const dir = join(this.dir, 'blobs', algorithm);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith(TEMP_SUFFIX)) continue;
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info !== undefined && now - info.mtimeMs > STALE_TEMP_MS) {
          await rm(path, { force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  private async tempPathFor(path: string): Promise<string> {
    const dir = join(path, '..');
    await mkdir(dir, { recursive: true });
    // Unique per writer, in the entry's own directory so the rename is atomic.
    return join(dir, `.${path.slice(dir.length + 1)}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  }

  /** A refusal of the cache directory as the user can act on it (exit 12, or 11 for a full disk), naming the cache. */
  private fault(error: unknown): unknown {
    // Anything else (a registry connection reset mid-blob) is the source's to report.
    if (!isFileSystemRefusal(error)) return error;
    return fileFault(error, { what: 'the blob cache', path: this.dir, action: 'write' });
  }

  private async discard(digest: string, path: string): Promise<void> {
    this.checked.delete(digest);
    await unlink(path).catch(() => {});
    this.options.onCorrupt?.(digest, path);
  }
}
