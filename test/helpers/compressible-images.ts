// Test images whose layers compress as real ones do: busybox plus real text files of this machine (Perl and Python
// libraries, TypeScript's lib), not random bytes, so sizes of compressed and uncompressed archives compare honestly.

import type Docker from 'dockerode';
import { copyFile, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { create as createTar } from 'tar';
import { REPO_ROOT } from './test-env.js';
import { makeTempDir } from './tmp.js';

const COMPRESSED = /\.(gz|xz|bz2|zst|zip|png|jpe?g|gif|pyc|so(\.\d+)*)$/;

/** Real text files, `budget` bytes of them after skipping the first `skip` bytes, in a fixed order. */
export async function textFiles(budget: number, skip = 0): Promise<string[]> {
  const pythons = (await readdir('/usr/lib')).filter((name) => /^python3\.\d+$/.test(name)).map((name) => `/usr/lib/${name}`);
  const roots = ['/usr/share/perl', '/usr/lib/python3', ...pythons, join(REPO_ROOT, 'node_modules/typescript/lib')];
  const files: string[] = [];
  let total = 0;
  let skipped = 0;
  const walk = async (dir: string): Promise<boolean> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) {
        if (name !== '__pycache__' && (await walk(path))) return true;
      } else if (info.isFile() && !COMPRESSED.test(name) && info.size > 0) {
        if (skipped < skip) {
          skipped += info.size;
          continue;
        }
        files.push(path);
        total += info.size;
        if (total >= budget) return true;
      }
    }
    return false;
  };
  for (const root of roots) if (await walk(root)) break;
  if (total < budget) throw new Error(`this machine has only ${total} bytes of text files for the test images`);
  return files;
}

export interface CompressibleImageOptions {
  /** Bytes of the layer every image built with the same base shares (the same files, so the same layer digest). */
  baseBytes: number;
  /** Bytes of the image's own layer; `uniqueSkip` picks which files, so images differ. */
  uniqueBytes: number;
  uniqueSkip: number;
}

async function drain(stream: Readable): Promise<void> {
  let failure: string | undefined;
  for await (const chunk of stream) {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      const message = JSON.parse(line) as { error?: string };
      if (message.error !== undefined) failure = message.error;
    }
  }
  if (failure !== undefined) throw new Error(failure);
}

/** Builds `tag` in `docker` and returns its image ID. */
export async function buildCompressibleImage(docker: Docker, tag: string, options: CompressibleImageOptions): Promise<string> {
  const context = await makeTempDir('kfb-ctx-');
  try {
    await mkdir(join(context.path, 'bin'));
    await copyFile('/bin/busybox', join(context.path, 'bin/busybox'));
    const copyAll = async (dir: string, files: readonly string[]) => {
      await mkdir(join(context.path, dir), { recursive: true });
      for (const [index, file] of files.entries()) await copyFile(file, join(context.path, dir, `${String(index).padStart(5, '0')}-${file.split('/').pop()!}`));
    };
    await copyAll('base', await textFiles(options.baseBytes));
    // Past the base's files, so the two layers hold different bytes.
    await copyAll('own', await textFiles(options.uniqueBytes, options.baseBytes + options.uniqueSkip));
    const lines = ['FROM scratch', 'COPY bin/busybox /bin/busybox', 'COPY base /usr/base', 'COPY own /usr/own', 'CMD ["/bin/busybox", "true"]'];
    await writeFile(join(context.path, 'Dockerfile'), `${lines.join('\n')}\n`);
    const tarStream = createTar({ cwd: context.path, portable: true, mtime: new Date(0) }, ['Dockerfile', 'bin', 'base', 'own']) as unknown as Readable;
    await drain((await docker.buildImage(tarStream, { t: tag, rm: true })) as unknown as Readable);
    return (await docker.getImage(tag).inspect()).Id;
  } finally {
    await context.remove();
  }
}
