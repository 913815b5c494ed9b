// `kfbundle verify`: recomputes every checksum of a bundle and names each file that does not match.

import { verifyBundle } from '../../app/verify-bundle.js';
import { EXIT_CODES, KfbundleError } from '../../core/errors.js';
import { DirectoryBundleReader } from '../../io/bundle-reader.js';
import { verifyBytes } from '../../io/bundle-signature.js';
import { readKey } from './keygen.js';
import { formatBytes } from '../../ui/format.js';
import { writeJson, type CliContext } from '../context.js';

export interface VerifyCommandOptions {
  json: boolean;
  key: string | undefined;
}

export async function runVerify(bundle: string, options: VerifyCommandOptions, context: CliContext): Promise<number> {
  const publicKey = options.key === undefined ? undefined : { pem: await readKey(options.key), name: options.key, verify: verifyBytes };
  const result = await verifyBundle({ reader: new DirectoryBundleReader(bundle), signal: context.signal, publicKey });
  if (options.json) {
    writeJson(context, { bundle, ...result });
    // Problems go to stdout as data; the status still says the bundle failed.
    return result.ok ? 0 : EXIT_CODES.CHECKSUM_MISMATCH;
  }
  if (result.ok) {
    const signed = result.signature === 'verified' ? `, signature verified with ${options.key}` : result.signature === 'not-checked' ? ' (signed; pass --key to check the signature)' : ' (unsigned)';
    context.stdout.write(`OK: ${result.files} files, ${formatBytes(result.bytes)} verified in ${bundle}${signed}\n`);
    return 0;
  }
  for (const problem of result.problems) context.stderr.write(`${problem.problem}: ${problem.path}\n`);
  throw new KfbundleError('CHECKSUM_MISMATCH', `bundle ${bundle} failed verification: ${describe(result.problems)}`, {
    hint: 'copy the named files again from the original bundle, or rebuild it',
  });
}

function describe(problems: readonly { path: string; problem: string }[]): string {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` and ${problems.length - 1} more` : '';
  return `${first.path} is ${first.problem}${more}`;
}
