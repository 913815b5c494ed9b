// The tool's version comes from package.json, so there is one place to change it; read on demand, not at import.

import { readFile } from 'node:fs/promises';
import { inlineInstallerParts, installerPartsNamed } from './core/installer-parts.js';

/** package.json and installer/ sit one level above both src/ (tsx) and dist/ (compiled). */
const PACKAGE_ROOT = new URL('../', import.meta.url);

export async function readToolVersion(): Promise<string> {
  const text = await readFile(new URL('package.json', PACKAGE_ROOT), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** installer/install.sh with the parts it includes inlined (core/installer-parts.ts). */
export async function readInstallerTemplate(): Promise<string> {
  const template = await readFile(new URL('installer/install.sh', PACKAGE_ROOT), 'utf8');
  const names = installerPartsNamed(template);
  const texts = await Promise.all(names.map((name) => readFile(new URL(`installer/${name}`, PACKAGE_ROOT), 'utf8')));
  return inlineInstallerParts(template, Object.fromEntries(names.map((name, index) => [name, texts[index]!])));
}
