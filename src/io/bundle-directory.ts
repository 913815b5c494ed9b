// Writes a bundle into a hidden sibling directory and renames it into place only when every file is written, so a
// directory named like the bundle is always complete.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KfbundleError } from '../core/errors.js';
import type { BundleOutput, StagedBundle } from '../app/ports.js';
import { HashingStream } from './hashing-stream.js';

export interface DirectoryStagedBundle extends StagedBundle {
  /** Where files are written until commit. */
  readonly dir: string;
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Starts a bundle at `outDir`.
 * @throws KfbundleError OUTPUT_EXISTS when `outDir` exists and `force` is false.
 */
export async function stageBundle(outDir: string, options: { force?: boolean } = {}): Promise<DirectoryStagedBundle> {
  const target = resolve(outDir);
  if (!options.force && (await pathExists(target))) {
    throw new KfbundleError('OUTPUT_EXISTS', `output directory already exists: "${outDir}"`, {
      hint: 'choose another --out, or pass --force to replace it',
    });
  }
  const suffix = randomBytes(4).toString('hex');
  const dir = join(dirname(target), `.${basename(target)}.partial-${suffix}`);
  await mkdir(dir, { recursive: true });

  const full = (path: string) => join(dir, path);
  const writeBuffer = async (path: string, bytes: Buffer, executable: boolean) => {
    await mkdir(dirname(full(path)), { recursive: true });
    await writeFile(full(path), bytes);
    if (executable) await chmod(full(path), 0o755);
    return { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  };
  return {
    dir,
    async writeText(path, content, writeOptions = {}) {
      return writeBuffer(path, Buffer.from(content, 'utf8'), writeOptions.executable === true);
    },
    async writeBytes(path, content) {
      return writeBuffer(path, content, false);
    },
    async writeStream(path, source, streamOptions = {}) {
      await mkdir(dirname(full(path)), { recursive: true });
      const hasher = new HashingStream(streamOptions.onBytes);
      await pipeline(source, hasher, createWriteStream(full(path)), { signal: streamOptions.signal });
      return { path, size: hasher.bytes, sha256: hasher.digestHex() };
    },
    async commit() {
      if (await pathExists(target)) {
        // Replacing: move the old bundle aside first, so the name never points at a half-removed directory.
        const old = join(dirname(target), `.${basename(target)}.old-${suffix}`);
        await rename(target, old);
        await rename(dir, target);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(dir, target);
      }
    },
    async discard() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const directoryBundleOutput: BundleOutput = {
  stage: (outDir, options) => stageBundle(outDir, options),
};
