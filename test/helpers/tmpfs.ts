// A small file system of its own (tmpfs, mounted as root, as the test machine runs), for full-disk tests that must
// not fill the real disk.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);
const LIMIT = { timeout: 30_000, killSignal: 'SIGKILL' } as const;

export async function mountTmpfs(bytes: number): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await makeTempDir('kfb-tmpfs-');
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir.path], LIMIT);
  return {
    path: dir.path,
    async remove() {
      await run('umount', [dir.path], LIMIT);
      await dir.remove();
    },
  };
}
