// Reads a bundle directory for verification and inspection.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { BundleReader } from '../app/ports.js';
import { BUNDLE_FILES } from '../core/bundle-layout.js';
import { hashFile } from './hashing-stream.js';
import { errnoOf, fileFault, isMissingFile } from './system-errors.js';

export class DirectoryBundleReader implements BundleReader {
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** A file that cannot be read is named with its path on this machine, so the user can fix it there. */
  private fault(error: unknown, path: string): unknown {
    return fileFault(error, { what: 'the bundle file', path: join(this.root, path), action: 'read' });
  }

  async listFiles(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    } catch (error) {
      throw fileFault(error, { what: 'the bundle directory', path: this.root, action: 'read', missingHint: 'name the directory the bundle was copied to' });
    }
    return entries
      .filter((entry) => !entry.isDirectory())
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.root, path), 'utf8');
    } catch (error) {
      if (isMissingFile(error)) return undefined;
      throw this.fault(error, path);
    }
  }

  async readBytes(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, path));
    } catch (error) {
      if (isMissingFile(error)) return undefined;
      throw this.fault(error, path);
    }
  }

  async hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number } | undefined> {
    try {
      return await hashFile(join(this.root, path), signal);
    } catch (error) {
      // A directory where a listed file should be: the file is missing, and the check goes on to the others.
      if (isMissingFile(error) || errnoOf(error) === 'EISDIR') return undefined;
      throw this.fault(error, path);
    }
  }
}

/**
 * A bundle's bundle.json, given the bundle's directory or the file itself (`build --since`, `diff`): its text, and the
 * directory when one was given (whose other files can then be read too); undefined when neither is there.
 */
export async function readBundleMetadata(path: string): Promise<{ text: string; directory: string | undefined } | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  const directory = info.isDirectory() ? path : undefined;
  const file = directory === undefined ? path : join(directory, BUNDLE_FILES.metadata);
  try {
    return { text: await readFile(file, 'utf8'), directory };
  } catch (error) {
    if (isMissingFile(error)) return undefined;
    throw fileFault(error, { what: 'the bundle description', path: file, action: 'read' });
  }
}
