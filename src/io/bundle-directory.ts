// Writes a bundle into a hidden sibling directory and renames it into place only when every file is written, so a
// directory named like the bundle is always complete.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KfbundleError } from '../core/errors.js';
import type { BundleOutput, StagedBundle } from '../app/ports.js';
import { HashingStream } from './hashing-stream.js';
import { errnoOf, fileFault } from './system-errors.js';
import { archivePartPath } from '../core/bundle-layout.js';
import { SplitFileWriter } from './split-file-writer.js';

const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

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

function stagingPrefix(target: string): string {
  return `.${basename(target)}.partial-`;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A build killed outright (SIGKILL, power loss) leaves its staging directory behind. The next build of the same
 * output removes it; one whose builder still runs means two builds are writing the same bundle, which is refused.
 */
async function removeAbandonedStaging(target: string): Promise<void> {
  const prefix = stagingPrefix(target);
  const siblings = await readdir(dirname(target)).catch(() => [] as string[]);
  for (const name of siblings) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (Number.isSafeInteger(pid) && pid !== process.pid && isRunning(pid)) {
      throw new KfbundleError('OUTPUT_EXISTS', `another kfbundle build (pid ${pid}) is writing "${basename(target)}"`, {
        hint: 'wait for it to finish, or stop it and build again',
      });
    }
    await rm(join(dirname(target), name), { recursive: true, force: true });
  }
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
  await removeAbandonedStaging(target);
  const suffix = randomBytes(4).toString('hex');
  // The builder's pid in the name tells a later build whether this directory is still being written.
  const dir = join(dirname(target), `${stagingPrefix(target)}${process.pid}-${suffix}`);
  try {
    // The last step is not recursive: Node's recursive mkdir reports a read-only file system as ENOENT.
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir);
  } catch (error) {
    throw fileFault(error, { what: 'the bundle', path: outDir, action: 'write' });
  }

  const full = (path: string) => join(dir, path);
  // A full disk is the user's to fix, not a bug: say which file and where, and that nothing is left behind.
  const diskFull = (path: string, error: unknown): never => {
    if (errnoOf(error) === 'ENOSPC') {
      throw new KfbundleError('DISK_FULL', `no space left on the device while writing ${path} under ${dirname(target)}`, {
        hint: 'free space there or choose another --out (on a disk with room for the whole bundle); the partial bundle is removed',
        cause: error,
      });
    }
    throw fileFault(error, { what: 'the bundle file', path: join(outDir, path), action: 'write' });
  };
  const writeBuffer = async (path: string, bytes: Buffer, executable: boolean) => {
    try {
      await mkdir(dirname(full(path)), { recursive: true });
      await writeFile(full(path), bytes);
      if (executable) await chmod(full(path), 0o755);
    } catch (error) {
      diskFull(path, error);
    }
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
      await mkdir(dirname(full(path)), { recursive: true }).catch((error: unknown) => diskFull(path, error));
      const hasher = new HashingStream(streamOptions.onBytes);
      const { partSize } = streamOptions;
      if (partSize === undefined) {
        // Large writes: at 16 KB each (the default) the syscalls cost as much CPU as the hash on a 10 GB archive.
        const file = createWriteStream(full(path), { highWaterMark: WRITE_BUFFER_BYTES });
        await pipeline(source, hasher, file, { signal: streamOptions.signal }).catch((error: unknown) => diskFull(path, error));
        const written = { path, size: hasher.bytes, sha256: hasher.digestHex() };
        return { files: [written], size: written.size, sha256: written.sha256, hashMs: hasher.hashMs };
      }
      const parts = new SplitFileWriter((index) => full(archivePartPath(path, index)), partSize);
      await pipeline(source, hasher, parts, { signal: streamOptions.signal }).catch((error: unknown) => diskFull(path, error));
      return {
        files: parts.parts.map((part) => ({ path: archivePartPath(path, part.index), size: part.size, sha256: part.sha256 })),
        size: hasher.bytes,
        sha256: hasher.digestHex(),
        hashMs: hasher.hashMs,
      };
    },
    async commit() {
      try {
        if (await pathExists(target)) {
          // Replacing: move the old bundle aside first, so the name never points at a half-removed directory.
          const old = join(dirname(target), `.${basename(target)}.old-${suffix}`);
          await rename(target, old);
          await rename(dir, target);
          await rm(old, { recursive: true, force: true });
        } else {
          await rename(dir, target);
        }
      } catch (error) {
        throw fileFault(error, { what: 'the bundle', path: outDir, action: 'write' });
      }
    },
    async discard() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Free bytes where `outDir` will be created: its nearest existing ancestor's file system. */
export async function freeBytesFor(outDir: string): Promise<number> {
  let dir = dirname(resolve(outDir));
  for (;;) {
    try {
      const stats = await statfs(dir);
      return stats.bavail * stats.bsize;
    } catch (error) {
      const parent = dirname(dir);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw error;
      dir = parent;
    }
  }
}

export const directoryBundleOutput: BundleOutput = {
  stage: (outDir, options) => stageBundle(outDir, options),
  freeBytes: freeBytesFor,
};
