// Temporary directories that tests create and remove themselves.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function makeTempDir(prefix = 'kfb-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Runs `body` with a fresh temporary directory, removed afterwards whether it passed or threw. */
export async function withTempDir<T>(body: (path: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir();
  try {
    return await body(dir.path);
  } finally {
    await dir.remove();
  }
}
