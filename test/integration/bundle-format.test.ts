// A bundle of a newer format than the reader knows is refused by `kfbundle verify`, `inspect` and install.sh, with
// the kfbundle version that wrote it; one of the current format passes the same checks.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { withTempDir } from '../helpers/tmp.js';
import { BUNDLE_FORMAT_VERSION } from '../../src/core/bundle-layout.js';

const test = suite('bundle format version');
const sha = (bytes: string) => createHash('sha256').update(bytes).digest('hex');
const CURRENT = BUNDLE_FORMAT_VERSION;
const NEWER = BUNDLE_FORMAT_VERSION + 1;

/** Sets bundle.json's formatVersion and its SHA256SUMS line, so only a format check can tell. */
async function setFormatVersion(bundle: string, version: number): Promise<void> {
  const metadataPath = join(bundle, 'bundle.json');
  const metadata = (await readFile(metadataPath, 'utf8')).replace(/^  "formatVersion": \d+,$/m, `  "formatVersion": ${version},`);
  await writeFile(metadataPath, metadata);
  const sums = await readFile(join(bundle, 'SHA256SUMS'), 'utf8');
  await writeFile(join(bundle, 'SHA256SUMS'), sums.replace(/^[0-9a-f]{64}(  bundle\.json)$/m, `${sha(metadata)}$1`));
}

async function builtBundle(dir: string): Promise<string> {
  const input = join(dir, 'rendered.yaml');
  await writeFile(input, deploymentYaml('kubeflow', 'a', '      - {name: a, image: "gcr.io/x/a:1"}\n'));
  const bundle = join(dir, 'bundle');
  await buildWithFakeStore(input, bundle);
  return bundle;
}

test('the current format, resealed the same way, passes verify, inspect and install.sh --verify-only', async () => {
  await withTempDir(async (dir) => {
    const bundle = await builtBundle(dir);
    await setFormatVersion(bundle, CURRENT);
    assert.is((await runKfbundle(['verify', bundle])).code, 0);
    assert.is((await runKfbundle(['inspect', bundle])).code, 0);
    const install = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only']);
    assert.is(install.code, 0, install.stderr);
  });
});

test('a newer format is refused by verify and inspect (exit 8) and by install.sh, naming the kfbundle that wrote it', async () => {
  await withTempDir(async (dir) => {
    const bundle = await builtBundle(dir);
    await setFormatVersion(bundle, NEWER);
    const verify = await runKfbundle(['verify', bundle, '--json']);
    assert.is(verify.code, 8, verify.stderr);
    assert.is(JSON.parse(verify.stdout).error.code, 'BUNDLE_FORMAT');
    assert.match(verify.stderr, `format ${NEWER}, written by kfbundle 0.0.0-test; this kfbundle reads formats up to ${CURRENT}: use kfbundle 0.0.0-test or newer`);
    const inspect = await runKfbundle(['inspect', bundle]);
    assert.is(inspect.code, 8, inspect.stderr);
    assert.match(inspect.stderr, `format ${NEWER}, written by kfbundle 0.0.0-test`);
    const install = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only']);
    assert.is.not(install.code, 0);
    assert.match(install.stderr, `the bundle is format ${NEWER}, written by kfbundle 0.0.0-test; this installer reads formats up to ${CURRENT}`);
    assert.not.match(install.stdout, /bundle verified/);
  });
});

test('install.sh refuses a bundle.json without a formatVersion before verifying anything', async () => {
  await withTempDir(async (dir) => {
    const bundle = await builtBundle(dir);
    const metadataPath = join(bundle, 'bundle.json');
    await writeFile(metadataPath, (await readFile(metadataPath, 'utf8')).replace(/^  "formatVersion": \d+,\n/m, ''));
    const install = await runCommand('bash', [join(bundle, 'install.sh'), '--dry-run']);
    assert.is.not(install.code, 0);
    assert.match(install.stderr, /bundle\.json has no formatVersion/);
  });
});

test.run();
