// The tool's version comes from package.json, so there is one place to change it; read on demand, not at import.

import { readFile } from 'node:fs/promises';

/** package.json and installer/ sit one level above both src/ (tsx) and dist/ (compiled). */
const PACKAGE_ROOT = new URL('../', import.meta.url);

export async function readToolVersion(): Promise<string> {
  const text = await readFile(new URL('package.json', PACKAGE_ROOT), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export async function readInstallerTemplate(): Promise<string> {
  return readFile(new URL('installer/install.sh', PACKAGE_ROOT), 'utf8');
}
