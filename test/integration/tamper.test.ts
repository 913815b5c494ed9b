// Every flipped byte, anywhere in a real bundle, is refused by kfbundle verify and by install.sh before anything is
// loaded. Offsets come from a seeded generator so a failure can be replayed.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyBundle } from '../../src/app/verify-bundle.js';
import { DirectoryBundleReader } from '../../src/io/bundle-reader.js';
import { runCommand } from '../helpers/cli.js';
import { renderedPath } from '../helpers/fixtures.js';
import { makeTempDir } from '../helpers/tmp.js';
import { flipByte } from '../helpers/flip-byte.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';

const SEED = 20261122;
const CASES_PER_FILE = 4;
const test = suite<{ dir: { path: string; remove(): Promise<void> }; bundle: string }>('tampering');

/** mulberry32: a small seeded generator, so the same offsets are tried every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test.before(async (context) => {
  context.dir = await makeTempDir();
  context.bundle = join(context.dir.path, 'bundle');
  await buildWithFakeStore(renderedPath('v1.10.2'), context.bundle, { saveBytes: 2 * 1024 * 1024 });
});

test.after(async (context) => {
  await context.dir?.remove();
});

test(`a byte flipped at ${CASES_PER_FILE} random offsets in every file (seed ${SEED}) is always refused`, async ({ bundle }) => {
  const reader = new DirectoryBundleReader(bundle);
  const intact = await verifyBundle({ reader });
  assert.ok(intact.ok, 'the bundle starts intact');
  const files = [...(await reader.listFiles())].sort();
  assert.ok(files.includes('SHA256SUMS') && files.includes('bundle.json') && files.includes('install.sh'));
  const next = random(SEED);
  let cases = 0;
  for (const file of files) {
    const size = (await readFile(join(bundle, file))).length;
    if (size === 0) continue;
    for (let i = 0; i < CASES_PER_FILE; i++) {
      const offset = Math.floor(next() * size);
      await flipByte(join(bundle, file), offset, 0x01);
      try {
        const verdict = await verifyBundle({ reader }).then(
          (result) => (result.ok ? 'accepted' : 'refused'),
          () => 'refused',
        );
        assert.is(verdict, 'refused', `verify: ${file} byte ${offset}`);
        // install.sh itself may be the damaged file; it must still not load anything. Run it from a pristine copy of
        // the template would hide that, so it runs as shipped.
        const install = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only'], { env: { PATH: '/usr/bin:/bin' } });
        assert.is.not(install.code, 0, `install.sh: ${file} byte ${offset}\n${install.stdout}`);
        cases++;
      } finally {
        await flipByte(join(bundle, file), offset, 0x01);
      }
    }
  }
  assert.ok(cases >= 50, `cases tried: ${cases}`);
  assert.ok((await verifyBundle({ reader })).ok, 'every flip was restored');
});

// The installer checks itself along with everything else; a flip inside its own checking code must still end in a
// refusal (the checks fail closed), never in a silent pass.
test('a byte flipped inside install.sh\'s own verification code is refused, for 40 seeded offsets', async ({ bundle }) => {
  const script = await readFile(join(bundle, 'install.sh'), 'utf8');
  const start = script.indexOf('verify_bundle() {');
  const end = script.indexOf('# The image archive');
  assert.ok(start > 0 && end > start, 'found the verification code');
  const next = random(SEED + 1);
  for (let i = 0; i < 40; i++) {
    const offset = Buffer.byteLength(script.slice(0, start)) + Math.floor(next() * Buffer.byteLength(script.slice(start, end)));
    await flipByte(join(bundle, 'install.sh'), offset, 0x01);
    try {
      const install = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only'], { env: { PATH: '/usr/bin:/bin' } });
      assert.is.not(install.code, 0, `install.sh byte ${offset}\n${install.stdout}`);
    } finally {
      await flipByte(join(bundle, 'install.sh'), offset, 0x01);
    }
  }
});

test.run();
