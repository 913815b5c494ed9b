// Reads a bundle directory for verification and inspection.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { BundleReader } from '../app/ports.js';
import { hashFile } from './hashing-stream.js';

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class DirectoryBundleReader implements BundleReader {
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async listFiles(): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => !entry.isDirectory())
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.root, path), 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async readBytes(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, path));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number } | undefined> {
    try {
      return await hashFile(join(this.root, path), signal);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}
