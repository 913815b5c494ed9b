// Loads bundle specs: a file the user names, or the one shipped in bundle-spec/ for a release.

import { readdir, readFile } from 'node:fs/promises';
import { parseBundleSpec, type BundleSpec } from '../core/bundle-spec.js';
import { KfbundleError } from '../core/errors.js';
import { fileFault, isMissingFile } from './system-errors.js';

const SPEC_DIR = new URL('../../bundle-spec/', import.meta.url);

export async function readBundleSpec(path: string): Promise<BundleSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileFault(error, { what: 'bundle spec', path, action: 'read', missingHint: 'pass --spec FILE with a bundle spec, or one of bundle-spec/*.yaml' });
  }
  return parseBundleSpec(text, path);
}

/** The spec shipped for a release tag, e.g. `v1.10.2` or `26.03`. */
export async function readShippedSpec(release: string): Promise<BundleSpec> {
  if (!/^[\w.-]+$/.test(release)) throw new KfbundleError('USAGE', `not a release tag: "${release}"`);
  const url = new URL(`${release}.yaml`, SPEC_DIR);
  let text: string;
  try {
    text = await readFile(url, 'utf8');
  } catch (error) {
    if (!isMissingFile(error)) throw fileFault(error, { what: 'the shipped bundle spec', path: url.pathname, action: 'read' });
    throw new KfbundleError('INPUT_NOT_FOUND', `no bundle spec for release "${release}"`, {
      hint: `supported releases: ${(await listShippedReleases()).join(', ')}; or pass --spec FILE`,
    });
  }
  return parseBundleSpec(text, `bundle-spec/${release}.yaml`);
}

export async function listShippedReleases(): Promise<string[]> {
  const names = await readdir(SPEC_DIR).catch((error: unknown) => {
    throw fileFault(error, { what: "kfbundle's bundle-spec directory", path: SPEC_DIR.pathname, action: 'read', missingHint: 'reinstall kfbundle (npm ci)' });
  });
  return names.filter((name) => name.endsWith('.yaml')).map((name) => name.slice(0, -'.yaml'.length)).sort();
}
