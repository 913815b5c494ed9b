// `kfbundle keygen`: an Ed25519 key pair for signing bundles. The private key stays with the builders; the public key
// travels to the isolated side separately from the bundle (a bundle cannot vouch for its own key).

import { chmod, readFile, writeFile } from 'node:fs/promises';
import { KfbundleError } from '../../core/errors.js';
import { generateSigningKeys } from '../../io/bundle-signature.js';
import { fileFault } from '../../io/system-errors.js';
import { writeJson, type CliContext } from '../context.js';

export interface KeygenCommandOptions {
  private: string;
  public: string;
  json: boolean;
}

export async function readKey(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw fileFault(error, { what: 'key', path, action: 'read', missingHint: 'make a key pair with kfbundle keygen' });
  }
}

async function writeNew(path: string, content: string, mode: number): Promise<void> {
  try {
    await writeFile(path, content, { flag: 'wx', mode });
    await chmod(path, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KfbundleError('KEY_EXISTS', `refusing to overwrite "${path}"`, { hint: 'move the old key away first, or choose other --private/--public paths' });
    }
    throw fileFault(error, { what: 'key', path, action: 'write' });
  }
}

export async function runKeygen(options: KeygenCommandOptions, context: CliContext): Promise<number> {
  const keys = generateSigningKeys();
  await writeNew(options.private, keys.privateKeyPem, 0o600);
  await writeNew(options.public, keys.publicKeyPem, 0o644);
  if (options.json) writeJson(context, { private: options.private, public: options.public, algorithm: 'ed25519' });
  else context.stdout.write(`wrote ${options.private} (private, keep it with the builders) and ${options.public} (public, give it to the installers)\n`);
  return 0;
}
