// `kfbundle sign`: signs an existing bundle's SHA256SUMS, after checking the bundle is intact (signing a damaged
// bundle would vouch for the damage).

import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyBundle } from '../../app/verify-bundle.js';
import { BUNDLE_FILES } from '../../core/bundle-layout.js';
import { KfbundleError } from '../../core/errors.js';
import { DirectoryBundleReader } from '../../io/bundle-reader.js';
import { signBytes } from '../../io/bundle-signature.js';
import { fileFault } from '../../io/system-errors.js';
import { writeJson, type CliContext } from '../context.js';
import { readKey } from './keygen.js';

export interface SignCommandOptions {
  key: string;
  json: boolean;
}

export async function runSign(bundle: string, options: SignCommandOptions, context: CliContext): Promise<number> {
  const privateKeyPem = await readKey(options.key);
  const reader = new DirectoryBundleReader(bundle);
  const result = await verifyBundle({ reader, signal: context.signal });
  if (!result.ok) {
    throw new KfbundleError('CHECKSUM_MISMATCH', `refusing to sign ${bundle}: ${result.problems.map((p) => `${p.path} is ${p.problem}`).join(', ')}`);
  }
  const checksums = (await reader.readBytes(BUNDLE_FILES.checksums))!;
  const signature = signBytes(checksums, privateKeyPem, options.key);
  const target = join(bundle, BUNDLE_FILES.signature);
  try {
    await writeFile(`${target}.partial`, signature);
    await rename(`${target}.partial`, target);
  } catch (error) {
    throw fileFault(error, { what: 'the signature', path: target, action: 'write' });
  }
  if (options.json) writeJson(context, { bundle, signature: BUNDLE_FILES.signature, algorithm: 'ed25519' });
  else context.stdout.write(`signed ${bundle}: ${BUNDLE_FILES.signature}\n`);
  return 0;
}
